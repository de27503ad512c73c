# PostgreSQL 15 for the control plane's state (functions, versions, keys, nodes, invocations). Every
# control-plane replica shares it, which is why cluster mode cannot use the embedded PGlite. The instance is
# private, encrypted, reachable only from the cluster's security group, and its master password lives in
# Secrets Manager (RDS generates and rotates it; Terraform state never sees it).

locals {
  create = var.create

  major_version = split(".", var.engine_version)[0]
}

################################################################################
# Subnet group
################################################################################

resource "aws_db_subnet_group" "this" {
  count = local.create ? 1 : 0

  name_prefix = "${var.name}-"
  description = "Private subnets for the ${var.name} Tidepool database"
  subnet_ids  = var.subnet_ids

  tags = var.tags
}

################################################################################
# Security group
################################################################################

resource "aws_security_group" "this" {
  count = local.create ? 1 : 0

  name_prefix = "${var.name}-db-"
  description = "PostgreSQL for ${var.name}: ingress from the Tidepool cluster only"
  vpc_id      = var.vpc_id

  tags = merge(var.tags, { Name = "${var.name}-db" })

  lifecycle {
    create_before_destroy = true
  }
}

# No egress rule: PostgreSQL only answers connections.
resource "aws_vpc_security_group_ingress_rule" "this" {
  count = local.create ? length(var.allowed_security_group_ids) : 0

  security_group_id            = aws_security_group.this[0].id
  referenced_security_group_id = var.allowed_security_group_ids[count.index]
  ip_protocol                  = "tcp"
  from_port                    = var.port
  to_port                      = var.port
  description                  = "PostgreSQL from the Tidepool cluster"

  tags = var.tags
}

################################################################################
# Parameter group
################################################################################

resource "aws_db_parameter_group" "this" {
  count = local.create ? 1 : 0

  name_prefix = "${var.name}-"
  family      = "postgres${local.major_version}"
  description = "Tidepool settings for ${var.name}"

  # DATABASE_URL carries sslmode=require; refuse anything weaker on the server side too.
  parameter {
    name  = "rds.force_ssl"
    value = "1"
  }

  # Invocation records are written in batches; log statements slower than this to find regressions.
  parameter {
    name  = "log_min_duration_statement"
    value = tostring(var.log_min_duration_statement_ms)
  }

  tags = var.tags

  lifecycle {
    create_before_destroy = true
  }
}

################################################################################
# Instance
################################################################################

resource "aws_db_instance" "this" {
  count = local.create ? 1 : 0

  identifier_prefix = "${var.name}-"
  engine            = "postgres"
  engine_version    = var.engine_version
  instance_class    = var.instance_class

  db_name  = var.database_name
  username = var.username
  port     = var.port

  manage_master_user_password   = true
  master_user_secret_kms_key_id = var.kms_key_arn

  allocated_storage     = var.allocated_storage_gb
  max_allocated_storage = var.max_allocated_storage_gb
  storage_type          = "gp3"
  storage_encrypted     = true
  kms_key_id            = var.kms_key_arn

  db_subnet_group_name   = aws_db_subnet_group.this[0].name
  vpc_security_group_ids = [aws_security_group.this[0].id]
  parameter_group_name   = aws_db_parameter_group.this[0].name
  publicly_accessible    = false
  multi_az               = var.multi_az

  backup_retention_period    = var.backup_retention_days
  copy_tags_to_snapshot      = true
  deletion_protection        = var.deletion_protection
  skip_final_snapshot        = var.skip_final_snapshot
  final_snapshot_identifier  = var.skip_final_snapshot ? null : "${var.name}-final"
  auto_minor_version_upgrade = true
  apply_immediately          = false

  performance_insights_enabled = var.performance_insights_enabled

  tags = var.tags
}
