# Pod roles for Tidepool: the control plane may read and write the weights bucket (deploy uploads, listings),
# node runtimes may only read it (cold starts). Nothing else in S3 or AWS is granted. Roles are bound to
# Kubernetes service accounts with EKS Pod Identity; IRSA trust can be added for clusters without it.

locals {
  create = var.create

  bucket_objects_arn = "${var.bucket_arn}/*"

  # Needed only when the bucket uses SSE-KMS: reading needs Decrypt, multipart uploads need GenerateDataKey.
  kms_statements = var.kms_key_arn == null ? [] : [{
    Sid      = "WeightsKey"
    Effect   = "Allow"
    Action   = ["kms:Decrypt", "kms:GenerateDataKey"]
    Resource = [var.kms_key_arn]
  }]

  roles = {
    control_plane = {
      service_account = var.control_plane_service_account
      bucket_actions  = ["s3:ListBucket", "s3:GetBucketLocation", "s3:ListBucketMultipartUploads"]
      object_actions = [
        "s3:GetObject",
        "s3:PutObject",
        "s3:DeleteObject",
        "s3:AbortMultipartUpload",
        "s3:ListMultipartUploadParts",
      ]
    }
    node = {
      service_account = var.node_service_account
      bucket_actions  = ["s3:ListBucket", "s3:GetBucketLocation"]
      object_actions  = ["s3:GetObject"]
    }
  }

  pod_identity_trust = {
    Effect    = "Allow"
    Principal = { Service = "pods.eks.amazonaws.com" }
    Action    = ["sts:AssumeRole", "sts:TagSession"]
  }

  irsa_issuer = var.irsa == null ? null : trimprefix(var.irsa.oidc_issuer_url, "https://")

  trust_policies = {
    for key, role in local.roles : key => jsonencode({
      Version = "2012-10-17"
      Statement = concat([local.pod_identity_trust], var.irsa == null ? [] : [{
        Effect    = "Allow"
        Principal = { Federated = var.irsa.oidc_provider_arn }
        Action    = "sts:AssumeRoleWithWebIdentity"
        Condition = {
          StringEquals = {
            "${local.irsa_issuer}:sub" = "system:serviceaccount:${var.namespace}:${role.service_account}"
            "${local.irsa_issuer}:aud" = "sts.amazonaws.com"
          }
        }
      }])
    })
  }

  bucket_policies = {
    for key, role in local.roles : key => jsonencode({
      Version = "2012-10-17"
      Statement = concat([
        {
          Sid      = "WeightsBucket"
          Effect   = "Allow"
          Action   = role.bucket_actions
          Resource = [var.bucket_arn]
        },
        {
          Sid      = "WeightsObjects"
          Effect   = "Allow"
          Action   = role.object_actions
          Resource = [local.bucket_objects_arn]
        },
      ], local.kms_statements)
    })
  }
}

################################################################################
# Control plane role
################################################################################

resource "aws_iam_role" "control_plane" {
  count = local.create ? 1 : 0

  name_prefix        = "${var.name}-control-plane-"
  description        = "Tidepool control plane: read/write the weights bucket"
  assume_role_policy = local.trust_policies.control_plane

  tags = var.tags
}

resource "aws_iam_role_policy" "control_plane" {
  count = local.create ? 1 : 0

  name   = "weights-bucket-read-write"
  role   = aws_iam_role.control_plane[0].id
  policy = local.bucket_policies.control_plane
}

resource "aws_eks_pod_identity_association" "control_plane" {
  count = local.create && var.create_pod_identity_associations ? 1 : 0

  cluster_name    = var.cluster_name
  namespace       = var.namespace
  service_account = var.control_plane_service_account
  role_arn        = aws_iam_role.control_plane[0].arn

  tags = var.tags
}

################################################################################
# Node runtime role
################################################################################

resource "aws_iam_role" "node" {
  count = local.create ? 1 : 0

  name_prefix        = "${var.name}-node-runtime-"
  description        = "Tidepool node runtime: read the weights bucket"
  assume_role_policy = local.trust_policies.node

  tags = var.tags
}

resource "aws_iam_role_policy" "node" {
  count = local.create ? 1 : 0

  name   = "weights-bucket-read"
  role   = aws_iam_role.node[0].id
  policy = local.bucket_policies.node
}

resource "aws_eks_pod_identity_association" "node" {
  count = local.create && var.create_pod_identity_associations ? 1 : 0

  cluster_name    = var.cluster_name
  namespace       = var.namespace
  service_account = var.node_service_account
  role_arn        = aws_iam_role.node[0].arn

  tags = var.tags
}
