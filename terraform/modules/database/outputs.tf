################################################################################
# Subnet group
################################################################################

output "subnet_group_name" {
  description = "Name of the DB subnet group"
  value       = try(aws_db_subnet_group.this[0].name, null)
}

################################################################################
# Security group
################################################################################

output "security_group_id" {
  description = "ID of the database security group"
  value       = try(aws_security_group.this[0].id, null)
}

output "allowed_security_group_ids" {
  description = "Security groups the database accepts connections from"
  value       = try(aws_vpc_security_group_ingress_rule.this[*].referenced_security_group_id, [])
}

################################################################################
# Parameter group
################################################################################

output "parameter_group_name" {
  description = "Name of the DB parameter group"
  value       = try(aws_db_parameter_group.this[0].name, null)
}

################################################################################
# Instance
################################################################################

output "instance_identifier" {
  description = "Identifier of the RDS instance"
  value       = try(aws_db_instance.this[0].identifier, null)
}

output "address" {
  description = "Host name of the instance (private DNS)"
  value       = try(aws_db_instance.this[0].address, null)
}

output "port" {
  description = "Port of the instance"
  value       = try(aws_db_instance.this[0].port, null)
}

output "database_name" {
  description = "Name of the database"
  value       = try(aws_db_instance.this[0].db_name, null)
}

output "username" {
  description = "Master user name"
  value       = try(aws_db_instance.this[0].username, null)
}

output "master_user_secret_arn" {
  description = "ARN of the Secrets Manager secret holding the master password (JSON with username and password)"
  value       = try(aws_db_instance.this[0].master_user_secret[0].secret_arn, null)
}

output "database_url_template" {
  description = "DATABASE_URL with the password left as <password>; fill it from master_user_secret_arn"
  value = try(format("postgres://%s:<password>@%s:%d/%s?sslmode=require",
    aws_db_instance.this[0].username, aws_db_instance.this[0].address,
  aws_db_instance.this[0].port, aws_db_instance.this[0].db_name), null)
}
