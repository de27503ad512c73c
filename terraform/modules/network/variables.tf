variable "create" {
  description = "Whether to create any resources in this module"
  type        = bool
  default     = true
}

variable "name" {
  description = "Name used for the VPC and as the prefix of every resource name"
  type        = string
}

variable "tags" {
  description = "Tags added to every resource"
  type        = map(string)
  default     = {}
}

################################################################################
# VPC
################################################################################

variable "cidr" {
  description = "IPv4 CIDR block of the VPC"
  type        = string
  default     = "10.0.0.0/16"

  validation {
    condition     = can(cidrhost(var.cidr, 0))
    error_message = "The cidr must be a valid IPv4 CIDR block, for example 10.0.0.0/16."
  }
}

variable "azs" {
  description = "Availability zones; subnet N is placed in zone N (modulo the list length)"
  type        = list(string)

  validation {
    condition     = length(var.azs) >= 2
    error_message = "EKS and RDS subnet groups need at least two availability zones."
  }
}

################################################################################
# Public subnets
################################################################################

variable "public_subnets" {
  description = "IPv4 CIDR blocks of the public subnets, one per availability zone"
  type        = list(string)
  default     = []
}

variable "public_subnet_tags" {
  description = "Extra tags for the public subnets"
  type        = map(string)
  default     = {}
}

################################################################################
# Private subnets
################################################################################

variable "private_subnets" {
  description = "IPv4 CIDR blocks of the private subnets, one per availability zone"
  type        = list(string)
  default     = []
}

variable "private_subnet_tags" {
  description = "Extra tags for the private subnets"
  type        = map(string)
  default     = {}
}

################################################################################
# NAT gateway
################################################################################

variable "enable_nat_gateway" {
  description = "Whether private subnets get a default route through a NAT gateway (needs public subnets)"
  type        = bool
  default     = true
}

variable "single_nat_gateway" {
  description = "Use one NAT gateway for all private subnets instead of one per availability zone"
  type        = bool
  default     = true
}

################################################################################
# S3 gateway endpoint
################################################################################

variable "enable_s3_endpoint" {
  description = "Whether to add an S3 gateway endpoint to the private route tables, so weight downloads bypass NAT"
  type        = bool
  default     = true
}
