################################################################################
# VPC
################################################################################

output "vpc_id" {
  description = "ID of the VPC"
  value       = try(aws_vpc.this[0].id, null)
}

output "vpc_cidr_block" {
  description = "IPv4 CIDR block of the VPC"
  value       = try(aws_vpc.this[0].cidr_block, null)
}

################################################################################
# Public subnets
################################################################################

output "public_subnet_ids" {
  description = "IDs of the public subnets, in the order of var.public_subnets"
  value       = try(aws_subnet.public[*].id, [])
}

################################################################################
# Private subnets
################################################################################

output "private_subnet_ids" {
  description = "IDs of the private subnets, in the order of var.private_subnets"
  value       = try(aws_subnet.private[*].id, [])
}

output "private_route_table_ids" {
  description = "IDs of the private route tables (one per private subnet)"
  value       = try(aws_route_table.private[*].id, [])
}

################################################################################
# NAT gateway
################################################################################

output "nat_public_ips" {
  description = "Public IPs of the NAT gateways; egress from the nodes comes from these"
  value       = try(aws_eip.nat[*].public_ip, [])
}

################################################################################
# S3 gateway endpoint
################################################################################

output "s3_endpoint_id" {
  description = "ID of the S3 gateway endpoint, or null when disabled"
  value       = try(aws_vpc_endpoint.s3[0].id, null)
}
