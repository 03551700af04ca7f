//! The toolkit trait implementations against the FAKE Alibaba Cloud API
//! (`fakes/alicloud`): what they create, find, wait for and delete, and
//! that deleting what is gone already is done.

use kiln_cloud::steps::image::ImageApi;
use kiln_cloud::steps::key_pair::KeyPairApi;
use kiln_cloud::steps::network::{
    IngressRule, NetworkApi, NetworkResource, SecurityGroupApi, TemporaryNetwork, TemporarySubnet,
};
use kiln_cloud::{Attempt, RetryPolicy, Status, Timeouts};
use kiln_sdk::Secret;
use kiln_test::alicloud_fake::AlicloudFake;

use super::Ecs;
use crate::client::{AccessKey, Client, Product};

fn ecs(fake: &AlicloudFake, region: &str) -> Ecs {
    let key = AccessKey {
        id: fake.access_key().to_string(),
        secret: Secret::new(fake.secret_key().to_string()),
        security_token: None,
    };
    let client = Client::new(
        Product::Ecs,
        region,
        key,
        Some(&fake.endpoint()),
        RetryPolicy::default(),
        Timeouts::from_env(),
    )
    .unwrap();
    Ecs {
        client,
        instance_type: "ecs.n1.tiny".into(),
        force_stop: false,
    }
}

fn run_tags() -> Vec<(String, String)> {
    vec![
        ("kiln:run".into(), "r-1".into()),
        ("kiln:build".into(), "b".into()),
    ]
}

#[tokio::test]
async fn the_network_is_created_in_a_zone_offering_the_type_found_and_deleted() {
    let fake = AlicloudFake::start();
    let ecs = ecs(&fake, "cn-beijing");
    let net = TemporaryNetwork {
        name: "packer_net".into(),
        cidr: "172.16.0.0/16".into(),
    };
    let vpc = ecs.create_network(&net, &run_tags()).await.unwrap();
    assert!(vpc.starts_with("vpc-"), "{vpc}");
    assert!(ecs
        .exists(NetworkResource::Network, &vpc, None)
        .await
        .unwrap());
    assert_eq!(
        ecs.find(NetworkResource::Network, "packer_net", None)
            .await
            .unwrap(),
        Some(vpc.clone())
    );
    // The fake makes a VPC available after a (scaled) delay.
    let mut ready = false;
    for _ in 0..100 {
        if let Status::Ready(()) = NetworkApi::status(&ecs, NetworkResource::Network, &vpc)
            .await
            .unwrap()
        {
            ready = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert!(ready, "the VPC never became available");
    let sub = TemporarySubnet {
        name: "packer_sub".into(),
        cidr: "172.16.0.0/24".into(),
        zone: None,
    };
    let vsw = ecs.create_subnet(&vpc, &sub, &run_tags()).await.unwrap();
    let res = fake.resources();
    let row = &res["vswitch"][0];
    assert_eq!(row["VSwitchId"], vsw.as_str());
    assert_eq!(row["ZoneId"], "cn-beijing-a", "{row:#}");
    assert_eq!(
        ecs.find(NetworkResource::Subnet, "packer_sub", Some(&vpc))
            .await
            .unwrap(),
        Some(vsw.clone())
    );

    let group = ecs
        .create_security_group("packer_sg", Some(&vpc), &run_tags())
        .await
        .unwrap();
    let rule = IngressRule {
        port: 2222,
        cidrs: vec!["0.0.0.0/0".into()],
    };
    ecs.authorize_ingress(&group, &rule, Attempt(1))
        .await
        .unwrap();
    // Again, as after a lost reply: the rules are there, which is success.
    ecs.authorize_ingress(&group, &rule, Attempt(2))
        .await
        .unwrap();
    let res = fake.resources();
    let g = &res["security_group"][0];
    assert_eq!(g["tags"]["kiln:run"], "r-1", "{g:#}");
    let rules = g["rules"].as_array().unwrap();
    assert_eq!(rules.len(), 2, "{g:#}");
    assert!(rules.iter().any(|r| r["PortRange"] == "2222/2222"), "{g:#}");
    assert_eq!(
        ecs.find_security_group("packer_sg", Some(&vpc))
            .await
            .unwrap(),
        Some(group.clone())
    );

    // Delete in order, twice: the second time everything is gone already.
    for _ in 0..2 {
        ecs.delete_security_group(&group).await.unwrap();
        for _ in 0..100 {
            if NetworkApi::delete(&ecs, NetworkResource::Subnet, &vsw)
                .await
                .is_ok()
            {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
        NetworkApi::delete(&ecs, NetworkResource::Network, &vpc)
            .await
            .unwrap();
    }
    let res = fake.resources();
    for kind in ["vpc", "vswitch", "security_group"] {
        assert!(res[kind].as_array().unwrap().is_empty(), "{res:#}");
    }
}

#[tokio::test]
async fn the_key_pair_is_imported_tagged_and_deleted_once() {
    let fake = AlicloudFake::start();
    let ecs = ecs(&fake, "cn-beijing");
    let key =
        kiln_ssh::TemporaryKeyPair::generate(kiln_ssh::KeyPairType::Ed25519, "k", None).unwrap();
    ecs.import_key_pair("packer_k", &key.public_openssh, &run_tags())
        .await
        .unwrap();
    let res = fake.resources();
    assert_eq!(res["key_pair"][0]["KeyPairName"], "packer_k");
    assert_eq!(res["key_pair"][0]["tags"]["kiln:build"], "b");
    ecs.delete_key_pair("packer_k").await.unwrap();
    ecs.delete_key_pair("packer_k").await.unwrap();
    assert!(fake.resources()["key_pair"].as_array().unwrap().is_empty());
}

#[tokio::test]
async fn an_image_the_cloud_does_not_know_is_destroyed_already() {
    let fake = AlicloudFake::start();
    let ecs = ecs(&fake, "cn-shanghai");
    assert!(ecs.describe("m-missing").await.unwrap().is_none());
    ecs.delete_image("m-missing").await.unwrap();
    ecs.delete_snapshot("s-missing").await.unwrap();
    kiln_cloud::steps::image::destroy_image(&ecs, "m-missing")
        .await
        .unwrap();
}

#[tokio::test]
async fn an_instance_still_being_created_is_deleted_once_ecs_lets_it() {
    use kiln_cloud::steps::instance::InstanceApi;
    let fake = AlicloudFake::start();
    // Creating takes 5 s at time scale 0.1: 0.5 s.
    fake.set_time_scale(0.1);
    let ecs = ecs(&fake, "cn-beijing");
    let vpc = ecs
        .create_network(
            &TemporaryNetwork {
                name: "n".into(),
                cidr: "172.16.0.0/16".into(),
            },
            &[],
        )
        .await
        .unwrap();
    let mut vsw = None;
    for _ in 0..100 {
        let sub = TemporarySubnet {
            name: "s".into(),
            cidr: "172.16.0.0/24".into(),
            zone: None,
        };
        if let Ok(id) = ecs.create_subnet(&vpc, &sub, &[]).await {
            vsw = Some(id);
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let group = ecs
        .create_security_group("g", Some(&vpc), &[])
        .await
        .unwrap();
    let launch = crate::client::Params::new()
        .set("ImageId", "centos_7_9_x64_20G_alibase_20200000.vhd")
        .set("InstanceType", "ecs.n1.tiny")
        .set("SecurityGroupId", group)
        .set("VSwitchId", vsw.expect("the vSwitch"));
    let cancel = tokio_util::sync::CancellationToken::new();
    let launched = InstanceApi::create(&ecs, &launch, &cancel).await.unwrap();
    // At once, while the fake still has it `Pending`.
    ecs.terminate(&launched.id).await.unwrap();
    assert!(fake.resources()["instance"].as_array().unwrap().is_empty());
    let codes: Vec<Option<String>> = fake
        .requests()
        .iter()
        .filter(|r| r.action == "DeleteInstance")
        .map(|r| r.code.clone())
        .collect();
    assert_eq!(
        codes.first().cloned().flatten().as_deref(),
        Some("IncorrectInstanceStatus.Initializing"),
        "{codes:?}"
    );
    assert_eq!(codes.last().cloned().flatten(), None, "{codes:?}");
}
