variable "name" {
  description = "Name of the instance and prefix of its role and security group"
  type        = string
  default     = "tidepool-single-node"
}

variable "region" {
  description = "AWS region; it must offer instance_type"
  type        = string
  default     = "us-east-1"
}

variable "tags" {
  description = "Tags added to every resource"
  type        = map(string)
  default     = { "tidepool.dev/managed-by" = "terraform" }
}

variable "source_url" {
  description = "Git URL of the Tidepool repository the instance clones and installs"
  type        = string
}

variable "source_ref" {
  description = "Branch or tag of source_url to install"
  type        = string
  default     = "main"
}

variable "node_major_version" {
  description = "Major version of Node.js to install (Tidepool needs 20 or newer)"
  type        = number
  default     = 22

  validation {
    condition     = var.node_major_version >= 20
    error_message = "Tidepool needs Node.js 20 or newer."
  }
}

variable "port" {
  description = "Port of the Tidepool HTTP API (TIDEPOOL_PORT)"
  type        = number
  default     = 8080
}

variable "host_pool_bytes" {
  description = "Host memory for warm weights (TIDEPOOL_HOST_POOL_BYTES); must fit in /dev/shm, which is half the RAM by default"
  type        = string
  default     = "12GiB"
}

################################################################################
# Instance role
################################################################################

# The role takes no inputs: it grants Session Manager access only.

################################################################################
# Security group
################################################################################

variable "subnet_id" {
  description = "Subnet of the instance; null picks a subnet of the default VPC"
  type        = string
  default     = null
}

variable "api_allowed_cidrs" {
  description = "CIDR blocks allowed to reach the API port; empty means reach it through SSM port forwarding only"
  type        = list(string)
  default     = []
}

################################################################################
# Instance
################################################################################

variable "instance_type" {
  description = "GPU instance type"
  type        = string
  default     = "g6e.xlarge"
}

variable "ami_id" {
  description = "AMI with the NVIDIA driver and CUDA toolkit; null uses the latest Deep Learning Base AMI (Ubuntu 22.04)"
  type        = string
  default     = null
}

variable "root_volume_gb" {
  description = "Size of the encrypted root volume in GiB (holds the weights store and the PGlite database)"
  type        = number
  default     = 200
}
