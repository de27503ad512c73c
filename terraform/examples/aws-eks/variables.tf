variable "name" {
  description = "Name of the cluster; prefixes every resource"
  type        = string
  default     = "tidepool"
}

variable "region" {
  description = "AWS region; it must offer the GPU instance types below"
  type        = string
  default     = "us-east-1"
}

variable "tags" {
  description = "Tags added to every resource"
  type        = map(string)
  default     = { "tidepool.dev/managed-by" = "terraform" }
}

################################################################################
# Network
################################################################################

variable "vpc_cidr" {
  description = "IPv4 CIDR block of the VPC (a /16 leaves room for pod addresses)"
  type        = string
  default     = "10.0.0.0/16"
}

variable "az_count" {
  description = "Number of availability zones to spread subnets over (2 or 3)"
  type        = number
  default     = 3

  validation {
    condition     = var.az_count >= 2 && var.az_count <= 3
    error_message = "az_count must be 2 or 3 (the private /18 subnets fill a /16 at three)."
  }
}

variable "single_nat_gateway" {
  description = "One NAT gateway for all zones (cheaper) instead of one per zone"
  type        = bool
  default     = true
}

################################################################################
# Cluster
################################################################################

variable "kubernetes_version" {
  description = "EKS Kubernetes version"
  type        = string
  default     = "1.31"
}

variable "api_allowed_cidrs" {
  description = "CIDR blocks that may reach the public Kubernetes API endpoint; narrow this to your network"
  type        = list(string)
  default     = ["0.0.0.0/0"]
}

variable "gpu_instance_types" {
  description = "Instance types of the GPU node group"
  type        = list(string)
  default     = ["g6e.xlarge"]
}

variable "gpu_nodes" {
  description = "Size of the GPU node group; one node runtime runs per GPU host"
  type = object({
    min     = optional(number, 1)
    max     = optional(number, 4)
    desired = optional(number, 2)
  })
  default = {}
}

################################################################################
# Database
################################################################################

variable "database_instance_class" {
  description = "RDS instance class of the PostgreSQL 15 database"
  type        = string
  default     = "db.t4g.medium"
}

variable "deletion_protection" {
  description = "Protect the database from deletion; set false before `terraform destroy`"
  type        = bool
  default     = true
}

################################################################################
# Storage
################################################################################

variable "force_destroy_bucket" {
  description = "Let `terraform destroy` delete the weights bucket with every object version in it"
  type        = bool
  default     = false
}
