output "region" {
  description = "AWS region of the cluster"
  value       = var.region
}

################################################################################
# Network
################################################################################

output "vpc_id" {
  description = "ID of the VPC"
  value       = module.network.vpc_id
}

################################################################################
# Cluster
################################################################################

output "cluster_name" {
  description = "Name of the EKS cluster"
  value       = module.cluster.cluster_name
}

output "configure_kubectl" {
  description = "Command that points kubectl at the cluster"
  value       = "aws eks update-kubeconfig --region ${var.region} --name ${module.cluster.cluster_name}"
}

################################################################################
# Database
################################################################################

output "database_address" {
  description = "Private host name of the PostgreSQL instance"
  value       = module.database.address
}

output "database_url_template" {
  description = "DATABASE_URL with <password> to fill in from database_secret_arn"
  value       = module.database.database_url_template
}

output "database_secret_arn" {
  description = "Secrets Manager secret with the database master password"
  value       = module.database.master_user_secret_arn
}

################################################################################
# Storage
################################################################################

output "weights_bucket" {
  description = "Weights bucket; the value of TIDEPOOL_S3_BUCKET"
  value       = module.storage.bucket_id
}

################################################################################
# IAM
################################################################################

output "control_plane_role_arn" {
  description = "Role the tidepool-control-plane service account assumes"
  value       = module.iam.control_plane_role_arn
}

output "node_role_arn" {
  description = "Role the tidepool-node service account assumes"
  value       = module.iam.node_role_arn
}
