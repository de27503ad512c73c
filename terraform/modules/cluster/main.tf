# EKS for a Tidepool cluster: the control plane and system add-ons run on a small "system" node group; node
# runtimes run one per host on a tainted GPU node group, so nothing else lands on the GPUs by accident.

locals {
  create = var.create

  # Nodes carry these so the runtime DaemonSet (terraform/kubernetes/node-runtime-daemonset.yaml) can select
  # and tolerate them. The taint keeps pods that do not ask for a GPU off GPU hosts.
  gpu_labels = merge({
    "nvidia.com/gpu.present" = "true"
    "tidepool.dev/node-role" = "gpu"
  }, var.gpu_node_group.labels)

  gpu_taints = concat([{
    key    = "nvidia.com/gpu"
    value  = "true"
    effect = "NO_SCHEDULE"
  }], var.gpu_node_group.taints)

  system_labels = merge({ "tidepool.dev/node-role" = "system" }, var.system_node_group.labels)
}

data "aws_partition" "current" {
  count = local.create ? 1 : 0
}

################################################################################
# Cluster IAM role
################################################################################

resource "aws_iam_role" "cluster" {
  count = local.create ? 1 : 0

  name_prefix = "${var.name}-cluster-"
  assume_role_policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Effect    = "Allow"
      Principal = { Service = "eks.amazonaws.com" }
      Action    = ["sts:AssumeRole", "sts:TagSession"]
    }]
  })

  tags = var.tags
}

resource "aws_iam_role_policy_attachment" "cluster" {
  count = local.create ? 1 : 0

  role       = aws_iam_role.cluster[0].name
  policy_arn = "arn:${data.aws_partition.current[0].partition}:iam::aws:policy/AmazonEKSClusterPolicy"
}

################################################################################
# Cluster
################################################################################

resource "aws_eks_cluster" "this" {
  count = local.create ? 1 : 0

  name     = var.name
  version  = var.kubernetes_version
  role_arn = aws_iam_role.cluster[0].arn

  enabled_cluster_log_types = var.enabled_log_types

  access_config {
    authentication_mode                         = "API"
    bootstrap_cluster_creator_admin_permissions = true
  }

  vpc_config {
    subnet_ids              = var.subnet_ids
    endpoint_private_access = true
    endpoint_public_access  = var.endpoint_public_access
    public_access_cidrs     = var.endpoint_public_access_cidrs
  }

  dynamic "encryption_config" {
    for_each = var.secrets_kms_key_arn == null ? [] : [var.secrets_kms_key_arn]

    content {
      resources = ["secrets"]
      provider {
        key_arn = encryption_config.value
      }
    }
  }

  tags = var.tags

  depends_on = [aws_iam_role_policy_attachment.cluster]
}

resource "aws_eks_addon" "this" {
  for_each = local.create ? var.addons : {}

  cluster_name                = aws_eks_cluster.this[0].name
  addon_name                  = each.key
  addon_version               = each.value.version
  resolve_conflicts_on_create = "OVERWRITE"
  resolve_conflicts_on_update = "OVERWRITE"

  tags = var.tags

  # coredns needs nodes to schedule on.
  depends_on = [aws_eks_node_group.system]
}

################################################################################
# Node IAM role
################################################################################

resource "aws_iam_role" "node" {
  count = local.create ? 1 : 0

  name_prefix = "${var.name}-node-"
  assume_role_policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Effect    = "Allow"
      Principal = { Service = "ec2.amazonaws.com" }
      Action    = "sts:AssumeRole"
    }]
  })

  tags = var.tags
}

# Only what a kubelet needs; S3 access for pods comes from the iam module's pod roles, not from the node.
resource "aws_iam_role_policy_attachment" "node" {
  for_each = local.create ? toset([
    "AmazonEKSWorkerNodePolicy",
    "AmazonEKS_CNI_Policy",
    "AmazonEC2ContainerRegistryReadOnly",
  ]) : toset([])

  role       = aws_iam_role.node[0].name
  policy_arn = "arn:${data.aws_partition.current[0].partition}:iam::aws:policy/${each.value}"
}

################################################################################
# System node group
################################################################################

resource "aws_eks_node_group" "system" {
  count = local.create ? 1 : 0

  cluster_name    = aws_eks_cluster.this[0].name
  node_group_name = "${var.name}-system"
  node_role_arn   = aws_iam_role.node[0].arn
  subnet_ids      = var.subnet_ids

  ami_type       = var.system_node_group.ami_type
  instance_types = var.system_node_group.instance_types
  capacity_type  = var.system_node_group.capacity_type
  disk_size      = var.system_node_group.disk_size_gb
  labels         = local.system_labels

  scaling_config {
    min_size     = var.system_node_group.min_size
    max_size     = var.system_node_group.max_size
    desired_size = var.system_node_group.desired_size
  }

  update_config {
    max_unavailable = 1
  }

  tags = var.tags

  depends_on = [aws_iam_role_policy_attachment.node]

  # The cluster autoscaler owns desired_size once the group exists.
  lifecycle {
    ignore_changes = [scaling_config[0].desired_size]
  }
}

################################################################################
# GPU node group
################################################################################

resource "aws_eks_node_group" "gpu" {
  count = local.create ? 1 : 0

  cluster_name    = aws_eks_cluster.this[0].name
  node_group_name = "${var.name}-gpu"
  node_role_arn   = aws_iam_role.node[0].arn
  subnet_ids      = var.subnet_ids

  # The NVIDIA AMI ships the driver and container toolkit; the device plugin is installed in-cluster.
  ami_type       = var.gpu_node_group.ami_type
  instance_types = var.gpu_node_group.instance_types
  capacity_type  = var.gpu_node_group.capacity_type
  # Weights are cached in host memory, not on disk, but images with CUDA are large.
  disk_size = var.gpu_node_group.disk_size_gb
  labels    = local.gpu_labels

  dynamic "taint" {
    for_each = local.gpu_taints

    content {
      key    = taint.value.key
      value  = taint.value.value
      effect = taint.value.effect
    }
  }

  scaling_config {
    min_size     = var.gpu_node_group.min_size
    max_size     = var.gpu_node_group.max_size
    desired_size = var.gpu_node_group.desired_size
  }

  # One GPU host at a time: draining a host drops its warm pool, so roll slowly.
  update_config {
    max_unavailable = 1
  }

  tags = var.tags

  depends_on = [aws_iam_role_policy_attachment.node]

  lifecycle {
    ignore_changes = [scaling_config[0].desired_size]
  }
}
