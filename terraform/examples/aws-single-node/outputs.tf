################################################################################
# Instance role
################################################################################

output "iam_role_arn" {
  description = "ARN of the instance role"
  value       = try(aws_iam_role.this.arn, null)
}

################################################################################
# Security group
################################################################################

output "security_group_id" {
  description = "ID of the instance's security group"
  value       = try(aws_security_group.this.id, null)
}

################################################################################
# Instance
################################################################################

output "instance_id" {
  description = "ID of the instance"
  value       = try(aws_instance.this.id, null)
}

output "public_ip" {
  description = "Public IP of the instance, if its subnet assigns one"
  value       = try(aws_instance.this.public_ip, null)
}

output "port_forward_command" {
  description = "Forwards localhost:<port> to the instance's API through Session Manager"
  value = try(format(
    "aws ssm start-session --region %s --target %s --document-name AWS-StartPortForwardingSession --parameters portNumber=%d,localPortNumber=%d",
    var.region, aws_instance.this.id, var.port, var.port,
  ), null)
}
