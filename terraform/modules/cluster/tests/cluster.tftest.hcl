mock_provider "aws" {
  mock_data "aws_partition" {
    defaults = {
      partition = "aws"
    }
  }
}

variables {
  name       = "tidepool-test"
  subnet_ids = ["subnet-aaaa", "subnet-bbbb"]
}

run "gpu_node_group_is_labelled_and_tainted" {
  command = plan

  assert {
    condition     = aws_eks_node_group.gpu[0].ami_type == "AL2023_x86_64_NVIDIA"
    error_message = "GPU nodes must use a GPU AMI type."
  }

  assert {
    condition     = aws_eks_node_group.gpu[0].labels["nvidia.com/gpu.present"] == "true"
    error_message = "GPU nodes must carry the nvidia.com/gpu.present label the runtime DaemonSet selects."
  }

  assert {
    condition = anytrue([
      for t in aws_eks_node_group.gpu[0].taint : t.key == "nvidia.com/gpu" && t.effect == "NO_SCHEDULE"
    ])
    error_message = "GPU nodes must be tainted nvidia.com/gpu:NoSchedule."
  }

  assert {
    condition     = length(aws_eks_node_group.system[0].taint) == 0
    error_message = "The system node group must stay untainted so control-plane pods can schedule."
  }

  assert {
    condition     = aws_eks_node_group.system[0].labels["tidepool.dev/node-role"] == "system"
    error_message = "System nodes must carry the system role label."
  }
}

run "api_is_private_and_pod_identity_is_installed" {
  command = plan

  assert {
    condition     = aws_eks_cluster.this[0].vpc_config[0].endpoint_private_access == true
    error_message = "Nodes must reach the API server privately."
  }

  assert {
    condition     = contains(keys(aws_eks_addon.this), "eks-pod-identity-agent")
    error_message = "The pod identity agent is required by the iam module's pod roles."
  }

  assert {
    condition     = aws_eks_cluster.this[0].access_config[0].authentication_mode == "API"
    error_message = "Access should be managed with EKS access entries."
  }
}

run "extra_taints_are_kept_with_the_gpu_taint" {
  command = plan

  variables {
    gpu_node_group = {
      instance_types = ["p5.48xlarge"]
      taints         = [{ key = "tidepool.dev/dedicated", value = "true", effect = "NO_EXECUTE" }]
    }
  }

  assert {
    condition     = length(aws_eks_node_group.gpu[0].taint) == 2
    error_message = "Extra taints must be added to, not replace, the nvidia.com/gpu taint."
  }

  assert {
    condition     = aws_eks_node_group.gpu[0].instance_types == tolist(["p5.48xlarge"])
    error_message = "Instance types must follow the input."
  }
}

run "rejects_a_cpu_ami_for_gpu_nodes" {
  command = plan

  variables {
    gpu_node_group = { ami_type = "AL2023_x86_64_STANDARD" }
  }

  expect_failures = [var.gpu_node_group]
}
