# Network for a Tidepool cluster: one VPC, a public and a private subnet per availability zone, and NAT so
# that nodes in private subnets can reach S3, ECR and the EKS API without public addresses.

locals {
  create = var.create

  # One NAT gateway is cheaper; one per AZ survives the loss of an AZ.
  nat_gateway_count = local.create && var.enable_nat_gateway ? (var.single_nat_gateway ? 1 : length(var.azs)) : 0
}

################################################################################
# VPC
################################################################################

resource "aws_vpc" "this" {
  count = local.create ? 1 : 0

  cidr_block           = var.cidr
  enable_dns_hostnames = true
  enable_dns_support   = true

  tags = merge(var.tags, { Name = var.name })
}

resource "aws_internet_gateway" "this" {
  count = local.create ? 1 : 0

  vpc_id = aws_vpc.this[0].id

  tags = merge(var.tags, { Name = var.name })
}

################################################################################
# Public subnets
################################################################################

resource "aws_subnet" "public" {
  count = local.create ? length(var.public_subnets) : 0

  vpc_id                  = aws_vpc.this[0].id
  cidr_block              = var.public_subnets[count.index]
  availability_zone       = element(var.azs, count.index)
  map_public_ip_on_launch = false

  # Internet-facing load balancers (the control plane's Service) land here.
  tags = merge(var.tags, var.public_subnet_tags, {
    Name                     = "${var.name}-public-${element(var.azs, count.index)}"
    "kubernetes.io/role/elb" = "1"
  })
}

resource "aws_route_table" "public" {
  count = local.create && length(var.public_subnets) > 0 ? 1 : 0

  vpc_id = aws_vpc.this[0].id

  tags = merge(var.tags, { Name = "${var.name}-public" })
}

resource "aws_route" "public_internet_gateway" {
  count = local.create && length(var.public_subnets) > 0 ? 1 : 0

  route_table_id         = aws_route_table.public[0].id
  destination_cidr_block = "0.0.0.0/0"
  gateway_id             = aws_internet_gateway.this[0].id
}

resource "aws_route_table_association" "public" {
  count = local.create ? length(var.public_subnets) : 0

  subnet_id      = aws_subnet.public[count.index].id
  route_table_id = aws_route_table.public[0].id
}

################################################################################
# Private subnets
################################################################################

resource "aws_subnet" "private" {
  count = local.create ? length(var.private_subnets) : 0

  vpc_id            = aws_vpc.this[0].id
  cidr_block        = var.private_subnets[count.index]
  availability_zone = element(var.azs, count.index)

  # Nodes, the database and internal load balancers land here.
  tags = merge(var.tags, var.private_subnet_tags, {
    Name                              = "${var.name}-private-${element(var.azs, count.index)}"
    "kubernetes.io/role/internal-elb" = "1"
  })
}

# One route table per private subnet, so each can point at the NAT gateway in its own AZ.
resource "aws_route_table" "private" {
  count = local.create ? length(var.private_subnets) : 0

  vpc_id = aws_vpc.this[0].id

  tags = merge(var.tags, { Name = "${var.name}-private-${element(var.azs, count.index)}" })
}

resource "aws_route_table_association" "private" {
  count = local.create ? length(var.private_subnets) : 0

  subnet_id      = aws_subnet.private[count.index].id
  route_table_id = aws_route_table.private[count.index].id
}

################################################################################
# NAT gateway
################################################################################

resource "aws_eip" "nat" {
  count = local.nat_gateway_count

  domain = "vpc"

  tags = merge(var.tags, { Name = "${var.name}-nat-${element(var.azs, count.index)}" })

  depends_on = [aws_internet_gateway.this]
}

resource "aws_nat_gateway" "this" {
  count = local.nat_gateway_count

  allocation_id = aws_eip.nat[count.index].id
  subnet_id     = aws_subnet.public[count.index].id

  tags = merge(var.tags, { Name = "${var.name}-${element(var.azs, count.index)}" })
}

resource "aws_route" "private_nat_gateway" {
  count = local.nat_gateway_count > 0 ? length(var.private_subnets) : 0

  route_table_id         = aws_route_table.private[count.index].id
  destination_cidr_block = "0.0.0.0/0"
  nat_gateway_id         = aws_nat_gateway.this[var.single_nat_gateway ? 0 : count.index].id
}

################################################################################
# S3 gateway endpoint
################################################################################

data "aws_region" "current" {
  count = local.create && var.enable_s3_endpoint ? 1 : 0
}

# Weights stream from S3 to every node on a cold start; a gateway endpoint keeps those bytes off the NAT
# gateway (no per-GB NAT charge) at no cost of its own.
resource "aws_vpc_endpoint" "s3" {
  count = local.create && var.enable_s3_endpoint ? 1 : 0

  vpc_id            = aws_vpc.this[0].id
  service_name      = "com.amazonaws.${data.aws_region.current[0].name}.s3"
  vpc_endpoint_type = "Gateway"
  route_table_ids   = aws_route_table.private[*].id

  tags = merge(var.tags, { Name = "${var.name}-s3" })
}
