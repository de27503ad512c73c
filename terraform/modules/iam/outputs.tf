################################################################################
# Control plane role
################################################################################

output "control_plane_role_arn" {
  description = "ARN of the control plane role (read/write on the weights bucket)"
  value       = try(aws_iam_role.control_plane[0].arn, null)
}

output "control_plane_policy_json" {
  description = "The control plane's inline policy, for review"
  value       = local.bucket_policies.control_plane
}

################################################################################
# Node runtime role
################################################################################

output "node_role_arn" {
  description = "ARN of the node runtime role (read-only on the weights bucket)"
  value       = try(aws_iam_role.node[0].arn, null)
}

output "node_policy_json" {
  description = "The node runtime's inline policy, for review"
  value       = local.bucket_policies.node
}
