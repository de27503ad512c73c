# One GPU instance running Tidepool in local mode (`tidepool up`): control plane, node runtime and engine in
# one process, with PGlite and a filesystem object store on the instance's encrypted disk. No SSH: reach it
# with SSM Session Manager (port forwarding to 8080), or open port 8080 to chosen CIDRs.

provider "aws" {
  region = var.region

  default_tags {
    tags = var.tags
  }
}

data "aws_partition" "current" {}

data "aws_vpc" "default" {
  count = var.subnet_id == null ? 1 : 0

  default = true
}

data "aws_subnets" "default" {
  count = var.subnet_id == null ? 1 : 0

  filter {
    name   = "vpc-id"
    values = [data.aws_vpc.default[0].id]
  }
}

data "aws_subnet" "selected" {
  id = local.subnet_id
}

# The Deep Learning Base AMI ships the NVIDIA driver and the CUDA toolkit (nvcc), which the engine build needs.
data "aws_ssm_parameter" "gpu_ami" {
  count = var.ami_id == null ? 1 : 0

  name = "/aws/service/deeplearning/ami/x86_64/base-oss-nvidia-driver-gpu-ubuntu-22.04/latest/ami-id"
}

locals {
  subnet_id = coalesce(var.subnet_id, try(data.aws_subnets.default[0].ids[0], null))
  ami_id    = coalesce(var.ami_id, try(nonsensitive(data.aws_ssm_parameter.gpu_ami[0].value), null))

  user_data = templatefile("${path.module}/user-data.sh.tftpl", {
    node_major      = var.node_major_version
    source_url      = var.source_url
    source_ref      = var.source_ref
    port            = var.port
    host_pool_bytes = var.host_pool_bytes
  })
}

################################################################################
# Instance role
################################################################################

resource "aws_iam_role" "this" {
  name_prefix = "${var.name}-"
  assume_role_policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Effect    = "Allow"
      Principal = { Service = "ec2.amazonaws.com" }
      Action    = "sts:AssumeRole"
    }]
  })
}

# Session Manager only: the instance needs no other AWS API in local mode.
resource "aws_iam_role_policy_attachment" "ssm" {
  role       = aws_iam_role.this.name
  policy_arn = "arn:${data.aws_partition.current.partition}:iam::aws:policy/AmazonSSMManagedInstanceCore"
}

resource "aws_iam_instance_profile" "this" {
  name_prefix = "${var.name}-"
  role        = aws_iam_role.this.name
}

################################################################################
# Security group
################################################################################

resource "aws_security_group" "this" {
  name_prefix = "${var.name}-"
  description = "Tidepool single node: API port from chosen CIDRs only"
  vpc_id      = data.aws_subnet.selected.vpc_id

  lifecycle {
    create_before_destroy = true
  }
}

resource "aws_vpc_security_group_ingress_rule" "api" {
  count = length(var.api_allowed_cidrs)

  security_group_id = aws_security_group.this.id
  cidr_ipv4         = var.api_allowed_cidrs[count.index]
  ip_protocol       = "tcp"
  from_port         = var.port
  to_port           = var.port
  description       = "Tidepool API"
}

# Package installs, the engine build and SSM need outbound HTTPS.
resource "aws_vpc_security_group_egress_rule" "all" {
  security_group_id = aws_security_group.this.id
  cidr_ipv4         = "0.0.0.0/0"
  ip_protocol       = "-1"
  description       = "Outbound"
}

################################################################################
# Instance
################################################################################

resource "aws_instance" "this" {
  ami                    = local.ami_id
  instance_type          = var.instance_type
  subnet_id              = local.subnet_id
  vpc_security_group_ids = [aws_security_group.this.id]
  iam_instance_profile   = aws_iam_instance_profile.this.name

  user_data                   = local.user_data
  user_data_replace_on_change = true

  metadata_options {
    http_tokens                 = "required"
    http_put_response_hop_limit = 1
  }

  # PGlite and the filesystem object store live here: weights are kept cold on disk, warm in /dev/shm.
  root_block_device {
    volume_type           = "gp3"
    volume_size           = var.root_volume_gb
    encrypted             = true
    delete_on_termination = true
  }

  tags = { Name = var.name }
}
