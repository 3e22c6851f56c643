; Inno Setup 6 script for the hostapp Windows installer.
; Build on Windows after PyInstaller (see BUILD.md):  iscc /DAppVersion=0.1.0 installers\windows\hostapp.iss
; Input: dist\hostapp\ (the PyInstaller one-folder bundle). Output: dist\hostapp-<version>-setup.exe
; Per-user install by default (no admin needed); the user may choose a machine-wide install.

#ifndef AppVersion
  #define AppVersion "0.1.0"
#endif
#define AppName "HostApp"
#define AppExe "hostapp.exe"
; The windowed twin of hostapp.exe (no console window): Start menu, autostart, post-install launch.
#define GuiExe "hostappw.exe"
#define RepoRoot "..\.."
; The PyInstaller bundle; scripts/build-windows.sh passes /DBundleDir=<dist\windows\hostapp> and /O<dist\windows>.
#ifndef BundleDir
  #define BundleDir RepoRoot + "\dist\hostapp"
#endif

[Setup]
; A fixed AppId: upgrades replace the old version instead of installing beside it.
AppId={{6F1C1E4B-2B2D-4E55-9A3C-6B1D3E0A7C21}
AppName={#AppName}
AppVersion={#AppVersion}
AppPublisher=The HostApp developers
DefaultDirName={autopf}\{#AppName}
DefaultGroupName={#AppName}
DisableProgramGroupPage=yes
PrivilegesRequired=lowest
PrivilegesRequiredOverridesAllowed=dialog
ArchitecturesAllowed=x64compatible
ArchitecturesInstallIn64BitMode=x64compatible
OutputDir={#RepoRoot}\dist
OutputBaseFilename=hostapp-{#AppVersion}-setup
SetupIconFile={#RepoRoot}\installers\windows\hostapp.ico
UninstallDisplayIcon={app}\{#GuiExe}
Compression=lzma2
SolidCompression=yes
WizardStyle=modern
; The tray app may be running during an upgrade or uninstall: ask to close it.
CloseApplications=yes

[Tasks]
Name: "autostart"; Description: "Start {#AppName} when I sign in (it waits in the tray until your schedule allows work)"; Flags: unchecked
Name: "desktopicon"; Description: "{cm:CreateDesktopIcon}"; GroupDescription: "{cm:AdditionalIcons}"; Flags: unchecked

[Files]
Source: "{#BundleDir}\*"; DestDir: "{app}"; Flags: ignoreversion recursesubdirs createallsubdirs

[Icons]
Name: "{group}\{#AppName}"; Filename: "{app}\{#GuiExe}"; Parameters: "gui"
Name: "{group}\{#AppName} doctor (check this PC)"; Filename: "{cmd}"; Parameters: "/k ""{app}\{#AppExe}"" doctor"
Name: "{group}\Uninstall {#AppName}"; Filename: "{uninstallexe}"
Name: "{autodesktop}\{#AppName}"; Filename: "{app}\{#GuiExe}"; Parameters: "gui"; Tasks: desktopicon

[Registry]
; The same value hostapp/autostart.py writes when the user ticks "Start at login" in the app,
; so the app's checkbox and this task agree. Removed on uninstall, also when the app wrote it ([Code]).
Root: HKCU; Subkey: "Software\Microsoft\Windows\CurrentVersion\Run"; ValueType: string; ValueName: "HostApp"; ValueData: """{app}\{#GuiExe}"" gui"; Flags: uninsdeletevalue; Tasks: autostart

[Run]
Filename: "{app}\{#GuiExe}"; Parameters: "gui"; Description: "{cm:LaunchProgram,{#AppName}}"; Flags: nowait postinstall skipifsilent

[UninstallRun]
; Stop a running tray app or node cleanly so its job containers are stopped and reported.
Filename: "{app}\{#AppExe}"; Parameters: "pause"; Flags: runhidden skipifdoesntexist; RunOnceId: "PauseHostApp"

[UninstallDelete]
; Only what the installer put in {app}. The wallet (Windows Credential Manager or the encrypted
; key file), settings and earnings ledger live in %APPDATA%\hostapp and %LOCALAPPDATA%\hostapp
; and are deliberately kept: uninstalling must never lose a wallet or its earnings history.
Type: filesandordirs; Name: "{app}\_internal"

[Code]
// The app's own "Start at login" switch writes the Run value too, and an uninstalled program must
// not be started at sign-in: remove it whoever wrote it (uninsdeletevalue above covers only the task).
procedure CurUninstallStepChanged(CurUninstallStep: TUninstallStep);
begin
  if CurUninstallStep = usPostUninstall then
    RegDeleteValue(HKEY_CURRENT_USER, 'Software\Microsoft\Windows\CurrentVersion\Run', 'HostApp');
end;
