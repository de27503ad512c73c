################################################################################
# Bucket
################################################################################

output "bucket_id" {
  description = "Name of the bucket; set TIDEPOOL_S3_BUCKET to it"
  value       = try(aws_s3_bucket.this[0].id, null)
}

output "bucket_arn" {
  description = "ARN of the bucket; pass it to the iam module"
  value       = try(aws_s3_bucket.this[0].arn, null)
}

output "bucket_region" {
  description = "Region of the bucket"
  value       = try(aws_s3_bucket.this[0].region, null)
}

################################################################################
# Encryption
################################################################################

output "sse_algorithm" {
  description = "Server-side encryption algorithm applied by default (AES256 or aws:kms)"
  value       = local.use_kms ? "aws:kms" : "AES256"
}
