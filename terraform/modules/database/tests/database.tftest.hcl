mock_provider "aws" {}

variables {
  name                       = "tidepool-test"
  vpc_id                     = "vpc-0123"
  subnet_ids                 = ["subnet-aaaa", "subnet-bbbb"]
  allowed_security_group_ids = ["sg-cluster"]
}

run "postgres_15_private_and_encrypted" {
  command = plan

  assert {
    condition     = aws_db_instance.this[0].engine == "postgres" && startswith(aws_db_instance.this[0].engine_version, "15")
    error_message = "The database must be PostgreSQL 15."
  }

  assert {
    condition     = aws_db_instance.this[0].publicly_accessible == false
    error_message = "The database must not be publicly accessible."
  }

  assert {
    condition     = aws_db_instance.this[0].storage_encrypted == true
    error_message = "Database storage must be encrypted."
  }

  assert {
    condition     = aws_db_instance.this[0].manage_master_user_password == true && aws_db_instance.this[0].password == null
    error_message = "The master password must come from Secrets Manager, never from Terraform."
  }

  assert {
    condition     = aws_db_parameter_group.this[0].family == "postgres15"
    error_message = "The parameter group family must match PostgreSQL 15."
  }

  assert {
    condition     = anytrue([for p in aws_db_parameter_group.this[0].parameter : p.name == "rds.force_ssl" && p.value == "1"])
    error_message = "The server must require TLS."
  }
}

run "only_the_cluster_security_group_may_connect" {
  command = plan

  assert {
    condition     = length(aws_vpc_security_group_ingress_rule.this) == 1
    error_message = "Expected one ingress rule per allowed security group."
  }

  assert {
    condition = (
      aws_vpc_security_group_ingress_rule.this[0].referenced_security_group_id == "sg-cluster" &&
      aws_vpc_security_group_ingress_rule.this[0].cidr_ipv4 == null &&
      aws_vpc_security_group_ingress_rule.this[0].from_port == 5432 &&
      aws_vpc_security_group_ingress_rule.this[0].to_port == 5432
    )
    error_message = "Ingress must come from the cluster security group on the PostgreSQL port only, never from a CIDR."
  }

  assert {
    condition     = aws_db_subnet_group.this[0].subnet_ids == toset(var.subnet_ids)
    error_message = "The instance must live in the given private subnets."
  }
}

run "pinned_minor_version_is_accepted" {
  command = plan

  variables {
    engine_version = "15.8"
  }

  assert {
    condition     = aws_db_parameter_group.this[0].family == "postgres15"
    error_message = "A 15.x minor version must keep the postgres15 family."
  }
}

run "rejects_other_major_versions" {
  command = plan

  variables {
    engine_version = "16.4"
  }

  expect_failures = [var.engine_version]
}
