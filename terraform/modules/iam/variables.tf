variable "create" {
  description = "Whether to create any resources in this module"
  type        = bool
  default     = true
}

variable "name" {
  description = "Prefix of the role names"
  type        = string
}

variable "tags" {
  description = "Tags added to every resource"
  type        = map(string)
  default     = {}
}

variable "bucket_arn" {
  description = "ARN of the weights bucket (storage module output bucket_arn); the only bucket the roles can touch"
  type        = string

  validation {
    condition     = can(regex("^arn:aws[a-z-]*:s3:::[a-z0-9.-]+$", var.bucket_arn))
    error_message = "bucket_arn must be a bucket ARN such as arn:aws:s3:::tidepool-weights, without a key path."
  }
}

variable "kms_key_arn" {
  description = "KMS key of the bucket when it uses SSE-KMS; null when it uses SSE-S3"
  type        = string
  default     = null
}

variable "cluster_name" {
  description = "EKS cluster whose service accounts get the roles"
  type        = string
  default     = null
}

variable "namespace" {
  description = "Kubernetes namespace of the Tidepool pods (terraform/kubernetes uses \"tidepool\")"
  type        = string
  default     = "tidepool"
}

variable "create_pod_identity_associations" {
  description = "Whether to bind the roles to the service accounts with EKS Pod Identity (needs cluster_name)"
  type        = bool
  default     = true
}

variable "irsa" {
  description = "Also trust the cluster's OIDC provider (IRSA), for clusters without the pod identity agent"
  type = object({
    oidc_provider_arn = string
    oidc_issuer_url   = string
  })
  default = null
}

################################################################################
# Control plane role
################################################################################

variable "control_plane_service_account" {
  description = "Service account of the control plane Deployment"
  type        = string
  default     = "tidepool-control-plane"
}

################################################################################
# Node runtime role
################################################################################

variable "node_service_account" {
  description = "Service account of the node runtime DaemonSet"
  type        = string
  default     = "tidepool-node"
}
