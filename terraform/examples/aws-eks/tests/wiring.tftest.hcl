# The example is the contract between the modules: these runs check that outputs flow into the right inputs.

mock_provider "aws" {
  mock_data "aws_availability_zones" {
    defaults = {
      names = ["us-east-1a", "us-east-1b", "us-east-1c"]
    }
  }

  mock_data "aws_region" {
    defaults = {
      name = "us-east-1"
    }
  }

  mock_data "aws_partition" {
    defaults = {
      partition = "aws"
    }
  }
}

override_resource {
  target          = module.storage.aws_s3_bucket.this[0]
  override_during = plan
  values = {
    id  = "tidepool-weights-test"
    arn = "arn:aws:s3:::tidepool-weights-test"
  }
}

override_resource {
  target          = module.cluster.aws_eks_cluster.this[0]
  override_during = plan
  values = {
    name = "tidepool"
    # A mocked block is given as one object; it fills every computed attribute of the block.
    vpc_config = {
      cluster_security_group_id = "sg-cluster"
      vpc_id                    = "vpc-0123"
    }
  }
}

run "pod_roles_get_exactly_the_weights_bucket" {
  command = plan

  assert {
    condition = toset(flatten([
      for s in jsondecode(module.iam.node_policy_json).Statement : s.Resource
    ])) == toset(["arn:aws:s3:::tidepool-weights-test", "arn:aws:s3:::tidepool-weights-test/*"])
    error_message = "The node role must be scoped to the bucket the storage module created."
  }
}

run "database_accepts_only_the_cluster_security_group" {
  command = plan

  assert {
    condition = (
      length(module.database.allowed_security_group_ids) == 1 &&
      module.database.allowed_security_group_ids[0] == "sg-cluster"
    )
    error_message = "Database ingress must come from the EKS cluster security group."
  }
}

run "subnets_fit_the_vpc_and_span_three_zones" {
  command = plan

  assert {
    condition     = length(local.private_subnets) == 3 && local.private_subnets[0] == "10.0.64.0/18"
    error_message = "Private subnets must be /18s above the public range."
  }

  assert {
    condition     = local.public_subnets == ["10.0.0.0/20", "10.0.16.0/20", "10.0.32.0/20"]
    error_message = "Public subnets must be /20s at the bottom of the VPC range."
  }
}
