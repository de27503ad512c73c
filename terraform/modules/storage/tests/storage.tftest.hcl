mock_provider "aws" {
  mock_resource "aws_s3_bucket" {
    override_during = plan
    defaults = {
      id  = "tidepool-weights-test"
      arn = "arn:aws:s3:::tidepool-weights-test"
    }
  }
}

run "bucket_is_private_versioned_and_encrypted" {
  command = plan

  assert {
    condition = (
      aws_s3_bucket_public_access_block.this[0].block_public_acls &&
      aws_s3_bucket_public_access_block.this[0].block_public_policy &&
      aws_s3_bucket_public_access_block.this[0].ignore_public_acls &&
      aws_s3_bucket_public_access_block.this[0].restrict_public_buckets
    )
    error_message = "All four public access blocks must be on."
  }

  assert {
    condition     = aws_s3_bucket_ownership_controls.this[0].rule[0].object_ownership == "BucketOwnerEnforced"
    error_message = "ACLs must be disabled (BucketOwnerEnforced)."
  }

  assert {
    condition     = aws_s3_bucket_versioning.this[0].versioning_configuration[0].status == "Enabled"
    error_message = "Versioning must be enabled."
  }

  assert {
    condition = alltrue([
      for r in aws_s3_bucket_server_side_encryption_configuration.this[0].rule :
      r.apply_server_side_encryption_by_default[0].sse_algorithm == "AES256"
    ])
    error_message = "Default encryption must be SSE-S3 when no KMS key is given."
  }

  assert {
    condition     = aws_s3_bucket.this[0].force_destroy == false
    error_message = "The weights bucket must not be destroyable with objects in it by default."
  }
}

run "bucket_policy_refuses_plain_http" {
  command = plan

  assert {
    condition = (
      jsondecode(aws_s3_bucket_policy.this[0].policy).Statement[0].Effect == "Deny" &&
      jsondecode(aws_s3_bucket_policy.this[0].policy).Statement[0].Condition.Bool["aws:SecureTransport"] == "false"
    )
    error_message = "The bucket policy must deny requests without TLS."
  }

  assert {
    condition = toset(jsondecode(aws_s3_bucket_policy.this[0].policy).Statement[0].Resource) == toset([
      "arn:aws:s3:::tidepool-weights-test", "arn:aws:s3:::tidepool-weights-test/*",
    ])
    error_message = "The TLS-only rule must cover the bucket and every object."
  }
}

run "kms_key_switches_to_sse_kms_with_bucket_key" {
  command = plan

  variables {
    kms_key_arn = "arn:aws:kms:us-east-1:111122223333:key/abcd"
  }

  assert {
    condition = alltrue([
      for r in aws_s3_bucket_server_side_encryption_configuration.this[0].rule :
      r.apply_server_side_encryption_by_default[0].sse_algorithm == "aws:kms" && r.bucket_key_enabled
    ])
    error_message = "A KMS key must switch encryption to aws:kms with a bucket key."
  }
}
