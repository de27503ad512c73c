variable "create" {
  description = "Whether to create any resources in this module"
  type        = bool
  default     = true
}

variable "name" {
  description = "Name of the EKS cluster and prefix of its IAM roles and node groups"
  type        = string
}

variable "tags" {
  description = "Tags added to every resource"
  type        = map(string)
  default     = {}
}

################################################################################
# Cluster IAM role
################################################################################

# The cluster role takes no inputs beyond name and tags.

################################################################################
# Cluster
################################################################################

variable "kubernetes_version" {
  description = "Kubernetes version of the control plane, for example \"1.31\""
  type        = string
  default     = "1.31"
}

variable "subnet_ids" {
  description = "Private subnet IDs (at least two AZs) for the control plane ENIs and both node groups"
  type        = list(string)

  validation {
    condition     = length(var.subnet_ids) >= 2
    error_message = "EKS needs subnets in at least two availability zones."
  }
}

variable "endpoint_public_access" {
  description = "Whether the Kubernetes API is reachable from the internet (restricted by endpoint_public_access_cidrs)"
  type        = bool
  default     = true
}

variable "endpoint_public_access_cidrs" {
  description = "CIDR blocks allowed to reach the public Kubernetes API endpoint"
  type        = list(string)
  default     = ["0.0.0.0/0"]
}

variable "enabled_log_types" {
  description = "Control plane log types sent to CloudWatch"
  type        = list(string)
  default     = ["api", "audit", "authenticator"]
}

variable "secrets_kms_key_arn" {
  description = "KMS key ARN for envelope encryption of Kubernetes Secrets (DATABASE_URL, cluster token); null uses the EKS default"
  type        = string
  default     = null
}

variable "addons" {
  description = "EKS add-ons to install, by name; a null version picks the default for the Kubernetes version"
  type = map(object({
    version = optional(string)
  }))
  default = {
    "vpc-cni"                = {}
    "kube-proxy"             = {}
    "coredns"                = {}
    "eks-pod-identity-agent" = {}
  }
}

################################################################################
# Node IAM role
################################################################################

# The node role takes no inputs beyond name and tags.

################################################################################
# System node group
################################################################################

variable "system_node_group" {
  description = "Node group for the control plane replicas and cluster add-ons (no GPU)"
  type = object({
    instance_types = optional(list(string), ["m6i.large"])
    ami_type       = optional(string, "AL2023_x86_64_STANDARD")
    capacity_type  = optional(string, "ON_DEMAND")
    disk_size_gb   = optional(number, 50)
    min_size       = optional(number, 2)
    max_size       = optional(number, 4)
    desired_size   = optional(number, 2)
    labels         = optional(map(string), {})
  })
  default = {}
}

################################################################################
# GPU node group
################################################################################

variable "gpu_node_group" {
  description = "Node group for the node runtimes: one runtime per host, GPUs requested as nvidia.com/gpu"
  type = object({
    instance_types = optional(list(string), ["g6e.xlarge"])
    ami_type       = optional(string, "AL2023_x86_64_NVIDIA")
    capacity_type  = optional(string, "ON_DEMAND")
    disk_size_gb   = optional(number, 200)
    min_size       = optional(number, 1)
    max_size       = optional(number, 4)
    desired_size   = optional(number, 1)
    labels         = optional(map(string), {})
    taints = optional(list(object({
      key    = string
      value  = optional(string)
      effect = string
    })), [])
  })
  default = {}

  validation {
    condition     = can(regex("NVIDIA|GPU", var.gpu_node_group.ami_type))
    error_message = "The GPU node group needs a GPU AMI type (AL2023_x86_64_NVIDIA, AL2_x86_64_GPU, BOTTLEROCKET_x86_64_NVIDIA)."
  }
}
