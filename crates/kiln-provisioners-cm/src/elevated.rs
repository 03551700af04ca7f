//! Packer's elevated runner (packer-plugin-sdk `guestexec.GenerateElevatedRunner`)
//! for `elevated_user` on windows guests: the command is wrapped in a
//! PowerShell script that registers a scheduled task running it as that
//! user, streams the task's log, removes the log, the script and the task,
//! and exits with the task's result. The script is uploaded to
//! `C:/Windows/Temp/packer-elevated-shell-<uuid>.ps1` and the returned
//! command runs it; the script removes itself, so nothing is left to undo.

use kiln_sdk::interpolate::{self, Context};

use crate::staging::{time_ordered_uuid, Guest};

/// `elevated_user` and `elevated_password` (windows guests).
#[derive(Debug, Clone, Default)]
pub(crate) struct Elevated {
    pub(crate) user: String,
    /// Rendered again at run time with the builder's generated data
    /// (`{{ build `WinRMPassword` }}`).
    pub(crate) password: String,
}

impl Elevated {
    /// `command`, wrapped in the elevated runner when a user is set.
    pub(crate) async fn wrap(
        &self,
        guest: &Guest<'_>,
        command: String,
        ctx: &Context,
    ) -> Result<String, String> {
        if self.user.is_empty() {
            return Ok(command);
        }
        // Packer ignores a failure to render the password.
        let password = interpolate::render(&self.password, ctx).unwrap_or_default();
        elevated_runner(guest, &command, &self.user, &password).await
    }
}

/// Escapes PowerShell's special characters in a double-quoted string
/// (Packer's `psEscape`).
fn ps_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '$' | '"' | '`' | '\'' => {
                out.push('`');
                out.push(c);
            }
            c => out.push(c),
        }
    }
    out
}

/// Go's `xml.EscapeText`.
fn xml_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '"' => out.push_str("&#34;"),
            '\'' => out.push_str("&#39;"),
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '\t' => out.push_str("&#x9;"),
            '\n' => out.push_str("&#xA;"),
            '\r' => out.push_str("&#xD;"),
            c => out.push(c),
        }
    }
    out
}

/// The PowerShell script that runs `command` as `user` through the task
/// scheduler; `task_name` and `script_path` name the task and the script.
pub(crate) fn elevated_script(
    command: &str,
    user: &str,
    password: &str,
    task_name: &str,
    script_path: &str,
) -> String {
    let log_file = format!("%SYSTEMROOT%/Temp/{task_name}.out");
    let command = xml_escape(&format!("{command} > {log_file} 2>&1"));
    let user = ps_escape(user);
    let password = ps_escape(password);
    format!(
        r#"
$name = "{task_name}"
$log = [System.Environment]::ExpandEnvironmentVariables("{log_file}")
$s = New-Object -ComObject "Schedule.Service"
$s.Connect()
$t = $s.NewTask($null)
$xml = [xml]@'
<?xml version="1.0" encoding="UTF-16"?>
<Task version="1.2" xmlns="http://schemas.microsoft.com/windows/2004/02/mit/task">
  <RegistrationInfo>
    <Description>Packer elevated task</Description>
  </RegistrationInfo>
  <Principals>
    <Principal id="Author">
      <UserId>{user}</UserId>
      <LogonType>Password</LogonType>
      <RunLevel>HighestAvailable</RunLevel>
    </Principal>
  </Principals>
  <Settings>
    <MultipleInstancesPolicy>IgnoreNew</MultipleInstancesPolicy>
    <DisallowStartIfOnBatteries>false</DisallowStartIfOnBatteries>
    <StopIfGoingOnBatteries>false</StopIfGoingOnBatteries>
    <AllowHardTerminate>true</AllowHardTerminate>
    <StartWhenAvailable>false</StartWhenAvailable>
    <RunOnlyIfNetworkAvailable>false</RunOnlyIfNetworkAvailable>
    <IdleSettings>
      <StopOnIdleEnd>false</StopOnIdleEnd>
      <RestartOnIdle>false</RestartOnIdle>
    </IdleSettings>
    <AllowStartOnDemand>true</AllowStartOnDemand>
    <Enabled>true</Enabled>
    <Hidden>false</Hidden>
    <RunOnlyIfIdle>false</RunOnlyIfIdle>
    <WakeToRun>false</WakeToRun>
    <ExecutionTimeLimit>PT0S</ExecutionTimeLimit>
    <Priority>4</Priority>
  </Settings>
  <Actions Context="Author">
    <Exec>
      <Command>cmd</Command>
      <Arguments>/c {command}</Arguments>
    </Exec>
  </Actions>
</Task>
'@
$logon_type = 1
$password = "{password}"
if ($password.Length -eq 0) {{
  $logon_type = 5
  $password = $null
  $ns = New-Object System.Xml.XmlNamespaceManager($xml.NameTable)
  $ns.AddNamespace("ns", $xml.DocumentElement.NamespaceURI)
  $node = $xml.SelectSingleNode("/ns:Task/ns:Principals/ns:Principal/ns:LogonType", $ns)
  $node.ParentNode.RemoveChild($node) | Out-Null
}}
$t.XmlText = $xml.OuterXml
if (Test-Path variable:global:ProgressPreference){{$ProgressPreference="SilentlyContinue"}}
$f = $s.GetFolder("\")
$f.RegisterTaskDefinition($name, $t, 6, "{user}", $password, $logon_type, $null) | Out-Null
$t = $f.GetTask("\$name")
$t.Run($null) | Out-Null
$timeout = 10
$sec = 0
while ((!($t.state -eq 4)) -and ($sec -lt $timeout)) {{
  Start-Sleep -s 1
  $sec++
}}

$line = 0
do {{
  Start-Sleep -m 100
  if (Test-Path $log) {{
    Get-Content $log | select -skip $line | ForEach {{
      $line += 1
      Write-Output "$_"
    }}
  }}
}} while (!($t.state -eq 3))
$result = $t.LastTaskResult
if (Test-Path $log) {{
    Remove-Item $log -Force -ErrorAction SilentlyContinue | Out-Null
}}

$script = [System.Environment]::ExpandEnvironmentVariables("{script_path}")
if (Test-Path $script) {{
    Remove-Item $script -Force -ErrorAction SilentlyContinue | Out-Null
}}
$f = $s.GetFolder("\")
$f.DeleteTask("\$name", "")

[System.Runtime.Interopservices.Marshal]::ReleaseComObject($s) | Out-Null
exit $result"#
    )
}

/// Uploads the elevated wrapper of `command` and returns the command that
/// runs it.
pub(crate) async fn elevated_runner(
    guest: &Guest<'_>,
    command: &str,
    user: &str,
    password: &str,
) -> Result<String, String> {
    let task_name = format!("packer-{}", time_ordered_uuid());
    let path = format!(
        "C:/Windows/Temp/packer-elevated-shell-{}.ps1",
        time_ordered_uuid()
    );
    let script = elevated_script(command, user, password, &task_name, &path);
    guest
        .upload_bytes(&path, script.as_bytes())
        .await
        .map_err(|e| format!("Error preparing elevated powershell script: {e}"))?;
    Ok(format!(
        "powershell -executionpolicy bypass -file \"{path}\""
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_like_packer() {
        assert_eq!(ps_escape(r#"p$a"s`s'"#), r#"p`$a`"s``s`'"#);
        assert_eq!(
            xml_escape("a & b < c > \"d\" 'e'\n"),
            "a &amp; b &lt; c &gt; &#34;d&#34; &#39;e&#39;&#xA;"
        );
    }

    #[test]
    fn the_script_runs_the_command_as_the_user_and_removes_itself() {
        let s = elevated_script(
            "puppet apply \"x\"",
            "Admin$",
            "",
            "packer-1",
            "C:/Windows/Temp/packer-elevated-shell-2.ps1",
        );
        assert!(s.starts_with("\n$name = \"packer-1\"\n"), "{s}");
        assert!(
            s.contains(
                "<Arguments>/c puppet apply &#34;x&#34; &gt; %SYSTEMROOT%/Temp/packer-1.out 2&gt;&amp;1</Arguments>"
            ),
            "{s}"
        );
        assert!(s.contains("<UserId>Admin`$</UserId>"), "{s}");
        assert!(s.contains("$f.RegisterTaskDefinition($name, $t, 6, \"Admin`$\", $password, $logon_type, $null) | Out-Null"));
        assert!(s.contains(
            "ExpandEnvironmentVariables(\"C:/Windows/Temp/packer-elevated-shell-2.ps1\")"
        ));
        assert!(s.ends_with("exit $result"));
    }
}
