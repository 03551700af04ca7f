//! Which host serves an Alibaba Cloud product in a region, chosen as the
//! Alibaba Cloud SDK for Go (`sdk/client.go`, `buildRequestWithSigner`)
//! chooses it: a custom endpoint first (`custom_endpoint_ecs`, Packer's
//! `AddEndpointMapping`), then the product's endpoint map
//! (`services/<product>/endpoint.go`: `ecs-cn-hangzhou.aliyuncs.com` for
//! the older Chinese and US regions, `ecs.aliyuncs.com` for some finance
//! and government ones), then the regional rule
//! `<product>.<region>.aliyuncs.com`; RAM has one global endpoint,
//! `ram.aliyuncs.com`. Pure; holds nothing.

/// An Alibaba Cloud product the builder calls, with its API version.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Product {
    /// Elastic Compute Service, API `2014-05-26` (which also serves the
    /// VPC, vSwitch and EIP actions Packer uses).
    Ecs,
    /// Virtual Private Cloud, API `2016-04-28`.
    Vpc,
    /// Resource Access Management, API `2015-05-01`: one global endpoint,
    /// `ram.aliyuncs.com` (the alicloud-import post-processor's import
    /// role).
    Ram,
}

impl Product {
    /// The name in messages (`ECS`).
    pub fn service(self) -> &'static str {
        match self {
            Product::Ecs => "ECS",
            Product::Vpc => "VPC",
            Product::Ram => "RAM",
        }
    }

    /// The code in host names (`ecs`).
    pub fn code(self) -> &'static str {
        match self {
            Product::Ecs => "ecs",
            Product::Vpc => "vpc",
            Product::Ram => "ram",
        }
    }

    /// The API version (`Version=`).
    pub fn version(self) -> &'static str {
        match self {
            Product::Ecs => "2014-05-26",
            Product::Vpc => "2016-04-28",
            Product::Ram => "2015-05-01",
        }
    }

    /// The template setting of its custom endpoint.
    pub fn setting(self) -> Option<&'static str> {
        match self {
            Product::Ecs => Some("custom_endpoint_ecs"),
            Product::Vpc => None,
            Product::Ram => Some("custom_endpoint_ram"),
        }
    }

    /// The SDK's endpoint map of the product.
    fn map(self) -> &'static [(&'static str, &'static str)] {
        match self {
            Product::Ecs => ECS_ENDPOINTS,
            Product::Vpc => VPC_ENDPOINTS,
            Product::Ram => &[],
        }
    }
}

/// The base URL (`https://host`) of `product` in `region`; `custom` (a
/// URL) wins.
pub fn endpoint(product: Product, region: &str, custom: Option<&str>) -> String {
    if let Some(c) = custom {
        return c.trim_end_matches('/').to_string();
    }
    format!("https://{}", host(product, region))
}

/// The host of `product` in `region`, without a custom endpoint.
pub fn host(product: Product, region: &str) -> String {
    if product == Product::Ram {
        return "ram.aliyuncs.com".to_string();
    }
    match product.map().iter().find(|(r, _)| *r == region) {
        Some((_, host)) => host.to_string(),
        None => format!("{}.{region}.aliyuncs.com", product.code()),
    }
}

/// `services/ecs/endpoint.go` of alibaba-cloud-sdk-go (the same data as
/// aliyun-python-sdk-ecs's `endpoint.py`); every other region is
/// `ecs.<region>.aliyuncs.com`.
const ECS_ENDPOINTS: &[(&str, &str)] = &[
    (
        "cn-shanghai-internal-test-1",
        "ecs-cn-hangzhou.aliyuncs.com",
    ),
    ("cn-beijing-gov-1", "ecs.aliyuncs.com"),
    ("cn-shenzhen-su18-b01", "ecs-cn-hangzhou.aliyuncs.com"),
    ("cn-beijing", "ecs-cn-hangzhou.aliyuncs.com"),
    ("cn-shanghai-inner", "ecs.aliyuncs.com"),
    ("cn-shenzhen-st4-d01", "ecs-cn-hangzhou.aliyuncs.com"),
    ("cn-haidian-cm12-c01", "ecs-cn-hangzhou.aliyuncs.com"),
    (
        "cn-hangzhou-internal-prod-1",
        "ecs-cn-hangzhou.aliyuncs.com",
    ),
    ("cn-north-2-gov-1", "ecs.aliyuncs.com"),
    ("cn-yushanfang", "ecs.aliyuncs.com"),
    ("cn-qingdao", "ecs-cn-hangzhou.aliyuncs.com"),
    ("cn-hongkong-finance-pop", "ecs.aliyuncs.com"),
    ("cn-shanghai", "ecs-cn-hangzhou.aliyuncs.com"),
    ("cn-shanghai-finance-1", "ecs-cn-hangzhou.aliyuncs.com"),
    ("cn-hongkong", "ecs-cn-hangzhou.aliyuncs.com"),
    ("cn-beijing-finance-pop", "ecs.aliyuncs.com"),
    ("cn-wuhan", "ecs.aliyuncs.com"),
    ("us-west-1", "ecs-cn-hangzhou.aliyuncs.com"),
    ("cn-shenzhen", "ecs-cn-hangzhou.aliyuncs.com"),
    (
        "cn-zhengzhou-nebula-1",
        "ecs.cn-qingdao-nebula.aliyuncs.com",
    ),
    ("rus-west-1-pop", "ecs.ap-northeast-1.aliyuncs.com"),
    ("cn-shanghai-et15-b01", "ecs-cn-hangzhou.aliyuncs.com"),
    ("cn-hangzhou-bj-b01", "ecs-cn-hangzhou.aliyuncs.com"),
    (
        "cn-hangzhou-internal-test-1",
        "ecs-cn-hangzhou.aliyuncs.com",
    ),
    ("eu-west-1-oxs", "ecs.cn-shenzhen-cloudstone.aliyuncs.com"),
    ("cn-zhangbei-na61-b01", "ecs-cn-hangzhou.aliyuncs.com"),
    ("cn-beijing-finance-1", "ecs.aliyuncs.com"),
    (
        "cn-hangzhou-internal-test-3",
        "ecs-cn-hangzhou.aliyuncs.com",
    ),
    ("cn-shenzhen-finance-1", "ecs-cn-hangzhou.aliyuncs.com"),
    (
        "cn-hangzhou-internal-test-2",
        "ecs-cn-hangzhou.aliyuncs.com",
    ),
    ("cn-hangzhou-test-306", "ecs-cn-hangzhou.aliyuncs.com"),
    ("cn-shanghai-et2-b01", "ecs-cn-hangzhou.aliyuncs.com"),
    ("cn-hangzhou-finance", "ecs.aliyuncs.com"),
    ("ap-southeast-1", "ecs-cn-hangzhou.aliyuncs.com"),
    ("cn-beijing-nu16-b01", "ecs-cn-hangzhou.aliyuncs.com"),
    ("cn-edge-1", "ecs.cn-qingdao-nebula.aliyuncs.com"),
    ("us-east-1", "ecs-cn-hangzhou.aliyuncs.com"),
    ("cn-fujian", "ecs-cn-hangzhou.aliyuncs.com"),
    ("ap-northeast-2-pop", "ecs.ap-northeast-1.aliyuncs.com"),
    ("cn-shenzhen-inner", "ecs.aliyuncs.com"),
    ("cn-zhangjiakou-na62-a01", "ecs.cn-zhangjiakou.aliyuncs.com"),
    ("cn-hangzhou", "ecs-cn-hangzhou.aliyuncs.com"),
];

/// `services/vpc/endpoint.go` (aliyun-python-sdk-vpc's `endpoint.py`);
/// every other region is `vpc.<region>.aliyuncs.com`.
const VPC_ENDPOINTS: &[(&str, &str)] = &[
    ("cn-shenzhen", "vpc.aliyuncs.com"),
    ("cn-qingdao", "vpc.aliyuncs.com"),
    ("cn-beijing", "vpc.aliyuncs.com"),
    ("cn-shanghai", "vpc.aliyuncs.com"),
    ("cn-hongkong", "vpc.aliyuncs.com"),
    ("ap-southeast-1", "vpc.aliyuncs.com"),
    ("us-east-1", "vpc.aliyuncs.com"),
    ("us-west-1", "vpc.aliyuncs.com"),
    ("cn-hangzhou", "vpc.aliyuncs.com"),
];
