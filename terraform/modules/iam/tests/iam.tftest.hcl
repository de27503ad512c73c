mock_provider "aws" {}

variables {
  name         = "tidepool-test"
  cluster_name = "tidepool-test"
  bucket_arn   = "arn:aws:s3:::tidepool-weights-test"
}

run "policies_are_scoped_to_the_weights_bucket" {
  command = plan

  assert {
    condition = alltrue(flatten([
      for p in [aws_iam_role_policy.control_plane[0].policy, aws_iam_role_policy.node[0].policy] : [
        for s in jsondecode(p).Statement : [
          for r in s.Resource : contains(["arn:aws:s3:::tidepool-weights-test", "arn:aws:s3:::tidepool-weights-test/*"], r)
        ]
      ]
    ]))
    error_message = "Every statement must name only the weights bucket or its objects."
  }

  assert {
    condition = alltrue(flatten([
      for p in [aws_iam_role_policy.control_plane[0].policy, aws_iam_role_policy.node[0].policy] : [
        for s in jsondecode(p).Statement : [for a in s.Action : !strcontains(a, "*")]
      ]
    ]))
    error_message = "No wildcard actions."
  }
}

run "nodes_read_and_the_control_plane_writes" {
  command = plan

  assert {
    condition = toset(flatten([
      for s in jsondecode(aws_iam_role_policy.node[0].policy).Statement : s.Action
    ])) == toset(["s3:ListBucket", "s3:GetBucketLocation", "s3:GetObject"])
    error_message = "Node runtimes must get read-only access."
  }

  assert {
    condition = contains(flatten([
      for s in jsondecode(aws_iam_role_policy.control_plane[0].policy).Statement : s.Action
    ]), "s3:PutObject")
    error_message = "The control plane must be able to upload weights."
  }
}

run "roles_are_bound_to_the_tidepool_service_accounts" {
  command = plan

  assert {
    condition = (
      aws_eks_pod_identity_association.control_plane[0].service_account == "tidepool-control-plane" &&
      aws_eks_pod_identity_association.node[0].service_account == "tidepool-node" &&
      aws_eks_pod_identity_association.node[0].namespace == "tidepool"
    )
    error_message = "Pod identity must bind each role to its service account in the tidepool namespace."
  }

  assert {
    condition     = jsondecode(aws_iam_role.node[0].assume_role_policy).Statement[0].Principal.Service == "pods.eks.amazonaws.com"
    error_message = "Roles must trust EKS Pod Identity."
  }
}

run "irsa_trust_is_limited_to_one_service_account" {
  command = plan

  variables {
    irsa = {
      oidc_provider_arn = "arn:aws:iam::111122223333:oidc-provider/oidc.eks.us-east-1.amazonaws.com/id/ABC"
      oidc_issuer_url   = "https://oidc.eks.us-east-1.amazonaws.com/id/ABC"
    }
  }

  assert {
    condition = (
      jsondecode(aws_iam_role.node[0].assume_role_policy).Statement[1].Condition.StringEquals["oidc.eks.us-east-1.amazonaws.com/id/ABC:sub"]
      == "system:serviceaccount:tidepool:tidepool-node"
    )
    error_message = "IRSA trust must name the node runtime's service account exactly."
  }
}

run "kms_key_adds_only_decrypt_and_data_key" {
  command = plan

  variables {
    kms_key_arn = "arn:aws:kms:us-east-1:111122223333:key/abcd"
  }

  assert {
    condition = anytrue([
      for s in jsondecode(aws_iam_role_policy.node[0].policy).Statement :
      s.Resource == ["arn:aws:kms:us-east-1:111122223333:key/abcd"] && toset(s.Action) == toset(["kms:Decrypt", "kms:GenerateDataKey"])
    ])
    error_message = "An SSE-KMS bucket needs decrypt on its key, and nothing more."
  }
}

run "rejects_an_object_arn" {
  command = plan

  variables {
    bucket_arn = "arn:aws:s3:::tidepool-weights-test/*"
  }

  expect_failures = [var.bucket_arn]
}
