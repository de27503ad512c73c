################################################################################
# Cluster IAM role
################################################################################

output "cluster_iam_role_arn" {
  description = "ARN of the IAM role the EKS control plane assumes"
  value       = try(aws_iam_role.cluster[0].arn, null)
}

################################################################################
# Cluster
################################################################################

output "cluster_name" {
  description = "Name of the EKS cluster (for `aws eks update-kubeconfig --name`)"
  value       = try(aws_eks_cluster.this[0].name, null)
}

output "cluster_arn" {
  description = "ARN of the EKS cluster"
  value       = try(aws_eks_cluster.this[0].arn, null)
}

output "cluster_endpoint" {
  description = "Endpoint of the Kubernetes API server"
  value       = try(aws_eks_cluster.this[0].endpoint, null)
}

output "cluster_certificate_authority_data" {
  description = "Base64-encoded certificate authority data of the cluster"
  value       = try(aws_eks_cluster.this[0].certificate_authority[0].data, null)
}

output "cluster_security_group_id" {
  description = "Security group EKS attaches to the control plane and managed nodes; pods reach the database from it"
  value       = try(aws_eks_cluster.this[0].vpc_config[0].cluster_security_group_id, null)
}

output "cluster_oidc_issuer_url" {
  description = "OIDC issuer URL of the cluster, for IRSA"
  value       = try(aws_eks_cluster.this[0].identity[0].oidc[0].issuer, null)
}

################################################################################
# Node IAM role
################################################################################

output "node_iam_role_arn" {
  description = "ARN of the IAM role both node groups' instances assume"
  value       = try(aws_iam_role.node[0].arn, null)
}

################################################################################
# System node group
################################################################################

output "system_node_group_arn" {
  description = "ARN of the system node group"
  value       = try(aws_eks_node_group.system[0].arn, null)
}

################################################################################
# GPU node group
################################################################################

output "gpu_node_group_arn" {
  description = "ARN of the GPU node group"
  value       = try(aws_eks_node_group.gpu[0].arn, null)
}

output "gpu_node_labels" {
  description = "Labels every GPU node carries; the runtime DaemonSet's nodeSelector uses them"
  value       = local.gpu_labels
}

output "gpu_node_taints" {
  description = "Taints every GPU node carries; the runtime DaemonSet tolerates them"
  value       = local.gpu_taints
}
