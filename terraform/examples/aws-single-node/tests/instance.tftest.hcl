mock_provider "aws" {
  mock_data "aws_partition" {
    defaults = {
      partition = "aws"
    }
  }

  mock_data "aws_ssm_parameter" {
    defaults = {
      value = "ami-0123456789abcdef0"
    }
  }
}

variables {
  source_url = "https://git.example.com/tidepool.git"
  subnet_id  = "subnet-aaaa"
}

run "instance_runs_tidepool_up_with_a_hardened_host" {
  command = plan

  assert {
    condition     = strcontains(local.user_data, "ExecStart=/usr/local/bin/tidepool up")
    error_message = "User data must run `tidepool up` as a service."
  }

  assert {
    condition     = strcontains(local.user_data, "node_22.x") && strcontains(local.user_data, "TIDEPOOL_HOST=0.0.0.0")
    error_message = "User data must install Node.js and listen on all interfaces."
  }

  assert {
    condition     = aws_instance.this.metadata_options[0].http_tokens == "required"
    error_message = "IMDSv2 must be required."
  }

  assert {
    condition     = aws_instance.this.root_block_device[0].encrypted == true
    error_message = "The root volume holds weights and the database; it must be encrypted."
  }

  assert {
    condition     = aws_instance.this.ami == "ami-0123456789abcdef0"
    error_message = "Without ami_id the instance must use the Deep Learning GPU AMI from SSM."
  }

  assert {
    condition     = length(aws_vpc_security_group_ingress_rule.api) == 0
    error_message = "With no CIDRs the API must not be reachable from the network."
  }
}

run "api_port_opens_only_to_given_cidrs" {
  command = plan

  variables {
    api_allowed_cidrs = ["203.0.113.0/24"]
  }

  assert {
    condition = (
      length(aws_vpc_security_group_ingress_rule.api) == 1 &&
      aws_vpc_security_group_ingress_rule.api[0].cidr_ipv4 == "203.0.113.0/24" &&
      aws_vpc_security_group_ingress_rule.api[0].from_port == 8080
    )
    error_message = "Ingress must be the API port from the given CIDR only."
  }
}
