# A complete Tidepool cluster on AWS: VPC, EKS with system and GPU node groups, RDS PostgreSQL 15, the
# weights bucket and the pod roles. Apply it, then apply terraform/kubernetes (see docs/cluster.md).

provider "aws" {
  region = var.region

  default_tags {
    tags = var.tags
  }
}

data "aws_availability_zones" "available" {
  state = "available"

  filter {
    name   = "opt-in-status"
    values = ["opt-in-not-required"]
  }
}

locals {
  azs = slice(data.aws_availability_zones.available.names, 0, var.az_count)

  # /20 public subnets at the bottom of the range (load balancers and NAT only), /18 private subnets above
  # them (every pod takes a VPC address with the VPC CNI).
  public_subnets  = [for index in range(var.az_count) : cidrsubnet(var.vpc_cidr, 4, index)]
  private_subnets = [for index in range(var.az_count) : cidrsubnet(var.vpc_cidr, 2, index + 1)]

  tags = merge(var.tags, { "tidepool.dev/cluster" = var.name })
}

################################################################################
# Network
################################################################################

module "network" {
  source = "../../modules/network"

  name            = var.name
  cidr            = var.vpc_cidr
  azs             = local.azs
  public_subnets  = local.public_subnets
  private_subnets = local.private_subnets

  single_nat_gateway = var.single_nat_gateway

  tags = local.tags
}

################################################################################
# Cluster
################################################################################

module "cluster" {
  source = "../../modules/cluster"

  name                         = var.name
  kubernetes_version           = var.kubernetes_version
  subnet_ids                   = module.network.private_subnet_ids
  endpoint_public_access_cidrs = var.api_allowed_cidrs

  gpu_node_group = {
    instance_types = var.gpu_instance_types
    min_size       = var.gpu_nodes.min
    max_size       = var.gpu_nodes.max
    desired_size   = var.gpu_nodes.desired
  }

  tags = local.tags
}

################################################################################
# Database
################################################################################

module "database" {
  source = "../../modules/database"

  name                       = var.name
  vpc_id                     = module.network.vpc_id
  subnet_ids                 = module.network.private_subnet_ids
  allowed_security_group_ids = [module.cluster.cluster_security_group_id]
  instance_class             = var.database_instance_class
  deletion_protection        = var.deletion_protection

  tags = local.tags
}

################################################################################
# Storage
################################################################################

module "storage" {
  source = "../../modules/storage"

  bucket_prefix = "${var.name}-weights-"
  force_destroy = var.force_destroy_bucket

  tags = local.tags
}

################################################################################
# IAM
################################################################################

module "iam" {
  source = "../../modules/iam"

  name         = var.name
  cluster_name = module.cluster.cluster_name
  bucket_arn   = module.storage.bucket_arn
  namespace    = "tidepool"

  tags = local.tags
}
