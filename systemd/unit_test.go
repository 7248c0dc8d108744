package systemd

import (
	"bufio"
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// maxExposure is the bound on `systemd-analyze security` for the unit. Measured with systemd
// 252 (Debian 12): 1.6. What keeps it above 0 is written in vigil.service (network access,
// the device allow-list, @resources).
const maxExposure = 2.0

// unit is a parsed unit file: section -> key -> values in order. A key set several times keeps
// every value; an empty assignment (Key=) resets the list, as systemd does.
type unit map[string]map[string][]string

func parseUnit(t *testing.T, path string) unit {
	t.Helper()
	f, err := os.Open(path)
	require.NoError(t, err)
	defer f.Close()
	u := unit{}
	section := ""
	sc := bufio.NewScanner(f)
	lineNo := 0
	var cont strings.Builder
	for sc.Scan() {
		lineNo++
		line := strings.TrimSpace(sc.Text())
		if strings.HasSuffix(line, `\`) {
			cont.WriteString(strings.TrimSuffix(line, `\`) + " ")
			continue
		}
		if cont.Len() > 0 {
			line = cont.String() + line
			cont.Reset()
		}
		switch {
		case line == "" || strings.HasPrefix(line, "#") || strings.HasPrefix(line, ";"):
		case strings.HasPrefix(line, "[") && strings.HasSuffix(line, "]"):
			section = line[1 : len(line)-1]
			if u[section] == nil {
				u[section] = map[string][]string{}
			}
		default:
			k, v, ok := strings.Cut(line, "=")
			require.True(t, ok, "%s:%d: not key=value: %q", path, lineNo, line)
			require.NotEmpty(t, section, "%s:%d: key outside a section", path, lineNo)
			k, v = strings.TrimSpace(k), strings.TrimSpace(v)
			if v == "" {
				u[section][k] = []string{""}
			} else {
				u[section][k] = append(u[section][k], v)
			}
		}
	}
	require.NoError(t, sc.Err())
	return u
}

// last is the value systemd uses for a single-valued key.
func (u unit) last(section, key string) string {
	vs := u[section][key]
	if len(vs) == 0 {
		return ""
	}
	return vs[len(vs)-1]
}

// words is every space-separated word given to a list-valued key.
func (u unit) words(section, key string) []string {
	var w []string
	for _, v := range u[section][key] {
		w = append(w, strings.Fields(v)...)
	}
	return w
}

func TestUnitHardening(t *testing.T) {
	u := parseUnit(t, "vigil.service")
	svc := "Service"
	for key, want := range map[string]string{
		"Type":                    "notify",
		"NotifyAccess":            "main",
		"Restart":                 "on-failure",
		"User":                    "vigil",
		"Group":                   "vigil",
		"StateDirectory":          "vigil",
		"ConfigurationDirectory":  "vigil",
		"ProtectSystem":           "strict",
		"ProtectHome":             "yes",
		"PrivateTmp":              "yes",
		"NoNewPrivileges":         "yes",
		"DevicePolicy":            "closed",
		"CapabilityBoundingSet":   "",
		"AmbientCapabilities":     "",
		"RestrictNamespaces":      "yes",
		"RestrictSUIDSGID":        "yes",
		"RestrictRealtime":        "yes",
		"LockPersonality":         "yes",
		"MemoryDenyWriteExecute":  "yes",
		"ProtectKernelTunables":   "yes",
		"ProtectKernelModules":    "yes",
		"ProtectControlGroups":    "yes",
		"SystemCallArchitectures": "native",
	} {
		vs, ok := u[svc][key]
		if assert.True(t, ok, "[Service] %s= missing", key) {
			assert.Equal(t, want, vs[len(vs)-1], "[Service] %s=", key)
		}
	}
	assert.ElementsMatch(t, []string{"video", "gpio"}, u.words(svc, "SupplementaryGroups"))
	assert.ElementsMatch(t, []string{"char-video4linux", "rw", "char-gpiochip", "rw"}, u.words(svc, "DeviceAllow"),
		"only cameras and GPIO chips")
	assert.ElementsMatch(t, []string{"AF_UNIX", "AF_INET", "AF_INET6"}, u.words(svc, "RestrictAddressFamilies"))
	assert.Contains(t, u[svc]["SystemCallFilter"], "@system-service")

	wd := u.last(svc, "WatchdogSec")
	require.NotEmpty(t, wd, "WatchdogSec= must be set: the frame loop pings at half of it")
	secs, err := strconv.Atoi(strings.TrimSuffix(wd, "s"))
	require.NoError(t, err, "WatchdogSec=%s: write it in whole seconds", wd)
	assert.GreaterOrEqual(t, secs, 10, "a Pi under load needs slack")

	exec := strings.Fields(u.last(svc, "ExecStart"))
	require.GreaterOrEqual(t, len(exec), 2)
	assert.Equal(t, "/usr/local/bin/vigil", exec[0], "install.sh rewrites this path for another PREFIX")
	assert.Equal(t, "run", exec[1])
	assert.Contains(t, exec, "/etc/vigil/vigil.yaml")
	assert.Equal(t, "multi-user.target", u.last("Install", "WantedBy"))
}

// stageUnit writes the unit into a temporary folder with ExecStart pointing at an executable
// that exists there, since verify checks the binary.
func stageUnit(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	bin := filepath.Join(dir, "vigil")
	require.NoError(t, os.WriteFile(bin, []byte("#!/bin/sh\nexit 0\n"), 0o755))
	src, err := os.ReadFile("vigil.service")
	require.NoError(t, err)
	staged := bytes.ReplaceAll(src, []byte("ExecStart=/usr/local/bin/vigil "), []byte("ExecStart="+bin+" "))
	require.NotEqual(t, src, staged, "ExecStart=/usr/local/bin/vigil not found in vigil.service")
	path := filepath.Join(dir, "vigil.service")
	require.NoError(t, os.WriteFile(path, staged, 0o644))
	return path
}

func systemdAnalyze(t *testing.T) string {
	t.Helper()
	p, err := exec.LookPath("systemd-analyze")
	require.NoError(t, err, "systemd-analyze not found: run scripts/setup.sh (Debian package systemd)")
	return p
}

func TestSystemdAnalyzeVerify(t *testing.T) {
	sa := systemdAnalyze(t)
	path := stageUnit(t)
	cmd := exec.Command(sa, "verify", "--man=no", path)
	cmd.Dir = filepath.Dir(path)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	require.NoError(t, err, "systemd-analyze verify: %s%s", stdout.String(), stderr.String())
	assert.Empty(t, stderr.String(), "systemd-analyze verify must print nothing on stderr")
	assert.Empty(t, strings.TrimSpace(stdout.String()))
}

var exposureRE = regexp.MustCompile(`Overall exposure level for vigil\.service: ([0-9.]+)`)

func TestSystemdAnalyzeSecurity(t *testing.T) {
	sa := systemdAnalyze(t)
	path := stageUnit(t)
	cmd := exec.Command(sa, "security", "--offline=true", "--no-pager", path)
	cmd.Dir = filepath.Dir(path)
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "systemd-analyze security: %s", out)
	m := exposureRE.FindSubmatch(out)
	require.NotNil(t, m, "no overall exposure level in:\n%s", out)
	score, err := strconv.ParseFloat(string(m[1]), 64)
	require.NoError(t, err)
	t.Logf("systemd-analyze security --offline=true: exposure %.1f (bound %.1f)", score, maxExposure)
	assert.LessOrEqual(t, score, maxExposure, "exposure rose; the report:\n%s", out)
}

func TestInstallScriptIntoStagingRoot(t *testing.T) {
	dest := t.TempDir()
	bin := filepath.Join(t.TempDir(), "vigil")
	require.NoError(t, os.WriteFile(bin, []byte("#!/bin/sh\necho fake vigil\n"), 0o755))

	install := func() string {
		cmd := exec.Command("bash", "install.sh", bin)
		cmd.Env = append(os.Environ(), "DESTDIR="+dest, "PREFIX=/opt/vigil")
		out, err := cmd.CombinedOutput()
		require.NoError(t, err, "install.sh: %s", out)
		return string(out)
	}
	install()

	st, err := os.Stat(filepath.Join(dest, "opt/vigil/bin/vigil"))
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o755), st.Mode().Perm())

	u := parseUnit(t, filepath.Join(dest, "etc/systemd/system/vigil.service"))
	assert.Equal(t, "/opt/vigil/bin/vigil run --config /etc/vigil/vigil.yaml", u.last("Service", "ExecStart"))

	conf := filepath.Join(dest, "etc/vigil/vigil.yaml")
	st, err = os.Stat(conf)
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o640), st.Mode().Perm(), "the config may hold the MQTT password")
	example, err := os.ReadFile("../daemon/vigil.example.yaml")
	require.NoError(t, err)
	got, err := os.ReadFile(conf)
	require.NoError(t, err)
	assert.Equal(t, example, got)

	// A second run upgrades the binary and unit but keeps an edited configuration.
	require.NoError(t, os.WriteFile(conf, []byte("device: edited\n"), 0o640))
	out := install()
	assert.Contains(t, out, "kept the existing /etc/vigil/vigil.yaml")
	got, err = os.ReadFile(conf)
	require.NoError(t, err)
	assert.Equal(t, "device: edited\n", string(got))
	_, err = os.Stat(filepath.Join(dest, "etc/vigil/vigil.example.yaml"))
	assert.NoError(t, err)
}

func TestInstallScriptRefusesMissingBinary(t *testing.T) {
	cmd := exec.Command("bash", "install.sh", filepath.Join(t.TempDir(), "nope"))
	cmd.Env = append(os.Environ(), "DESTDIR="+t.TempDir())
	out, err := cmd.CombinedOutput()
	require.Error(t, err)
	assert.Contains(t, string(out), "no executable at")
}
