//! What a build left in a moto server (EC2 and IAM), for the amazon-ebs
//! and `kiln cleanup` tests: the boto3 inventory the tests run under the
//! moto venv's Python (as bench/benchlib.py's `ec2_inventory` does for the
//! benchmarks), and the check that kinds of an inventory are empty.

/// Python defining `leftovers(region="us-east-1")`: what in moto a build
/// could leave behind, by kind (kiln's `packer_…` key pairs, security
/// groups, instance profiles and roles; instances not terminated; AMIs
/// named `kiln test…`; launch templates). Expects `ec2(region)` and
/// `iam()` to return boto3 clients of the server.
pub const LEFTOVERS_PY: &str = r#"
def leftovers(region="us-east-1"):
    c = ec2(region)
    return {
        "key_pairs": [k["KeyName"] for k in c.describe_key_pairs()["KeyPairs"] if k["KeyName"].startswith("packer_")],
        "security_groups": [g["GroupName"] for g in c.describe_security_groups()["SecurityGroups"] if g["GroupName"].startswith("packer_")],
        "instances": [i["InstanceId"] for r in c.describe_instances()["Reservations"] for i in r["Instances"]
                      if i["State"]["Name"] not in ("terminated", "shutting-down")],
        "amis": [im["ImageId"] for im in c.describe_images(Owners=["self"])["Images"] if im["Name"].startswith("kiln test")],
        "launch_templates": [t["LaunchTemplateName"] for t in c.describe_launch_templates()["LaunchTemplates"]],
        "instance_profiles": [p["InstanceProfileName"] for p in iam().list_instance_profiles()["InstanceProfiles"] if p["InstanceProfileName"].startswith("packer-")],
        "roles": [r["RoleName"] for r in iam().list_roles()["Roles"] if r["RoleName"].startswith("packer-")],
    }
"#;

/// The temporary kinds a build deletes: what an inventory shows after any
/// build (the AMI and the launch template aside, which some builds keep).
pub const TEMPORARY: &[&str] = &["key_pairs", "security_groups", "instances"];

/// Asserts that `inventory` (kind → ids, as [`LEFTOVERS_PY`] or a test's
/// own inventory lists them) holds nothing of each of `kinds`; the
/// message names the kind and shows the whole inventory.
pub fn assert_none_left(inventory: &serde_json::Value, kinds: &[&str]) {
    for kind in kinds {
        assert_eq!(
            inventory[*kind],
            serde_json::json!([]),
            "leftover {kind} in moto: {inventory}"
        );
    }
}
