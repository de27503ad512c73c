variable "create" {
  description = "Whether to create any resources in this module"
  type        = bool
  default     = true
}

variable "tags" {
  description = "Tags added to every resource"
  type        = map(string)
  default     = {}
}

################################################################################
# Bucket
################################################################################

variable "bucket_name" {
  description = "Exact bucket name; null lets AWS pick a unique name starting with bucket_prefix"
  type        = string
  default     = null
}

variable "bucket_prefix" {
  description = "Prefix of the generated bucket name, used when bucket_name is null"
  type        = string
  default     = "tidepool-weights-"
}

variable "force_destroy" {
  description = "Whether `terraform destroy` may delete a bucket that still holds weights"
  type        = bool
  default     = false
}

################################################################################
# Ownership and public access
################################################################################

# Always owner-enforced and fully blocked; nothing to configure.

################################################################################
# Versioning
################################################################################

# Always enabled; noncurrent versions expire per the lifecycle section.

################################################################################
# Encryption
################################################################################

variable "kms_key_arn" {
  description = "KMS key ARN for SSE-KMS; null uses SSE-S3 (AES256). Pod roles then also need kms:Decrypt on it"
  type        = string
  default     = null
}

################################################################################
# Lifecycle
################################################################################

variable "abort_incomplete_upload_days" {
  description = "Days after which unfinished multipart uploads are aborted"
  type        = number
  default     = 7
}

variable "noncurrent_version_expiration_days" {
  description = "Days a deleted or replaced object version is kept before it expires"
  type        = number
  default     = 30
}
