// Package deploy installs pilotlight as a Lambda function in the DR region
// (so that the protect plane's control survives the primary region): the
// zip (bootstrap, binary, config), the function's IAM role with the
// generated least-privilege policy, and one EventBridge Scheduler schedule
// per protected resource with a role that may only invoke the function. It
// reads before it writes: a second run changes nothing and says so.
package deploy

import (
	"archive/zip"
	"bytes"
	"context"
	"crypto/sha256"
	"debug/elf"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"time"

	"github.com/pilotlight/pilotlight/internal/spec"
)

// Bootstrap is the zip's entry point for the provided.al2023 runtime: it
// runs the binary's lambda verb with the config packed beside it.
const Bootstrap = `#!/bin/sh
cd "${LAMBDA_TASK_ROOT:-/var/task}" || exit 1
exec ./pilotlight lambda --config pilotlight.yaml --output json
`

// Package is a built Lambda zip.
type Package struct {
	Zip []byte
	// Arch is the Lambda architecture: x86_64 or arm64.
	Arch string
	// SHA256 is base64(sha256(zip)), as Lambda reports CodeSha256: equal
	// hashes mean the deployed code is this package.
	SHA256 string
	// Binary says where the binary came from.
	Binary   string
	Files    []string
	Warnings []string
}

// zipTime is every entry's time: a fixed one makes the zip, and so its
// hash, depend on content only.
var zipTime = time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)

// BuildPackage packs the Lambda zip for cfg. The binary is, in order:
// binary when given; the running executable when it is a Linux one; or a
// fresh `go build` of source (a pilotlight module checkout) for arch.
func BuildPackage(ctx context.Context, cfg *spec.Config, binary, source, arch string) (*Package, error) {
	pkg := &Package{}
	var bin []byte
	var err error
	switch {
	case binary != "":
		pkg.Binary = binary
	default:
		if exe, err := os.Executable(); err == nil && runtime.GOOS == "linux" && (arch == "" || lambdaArch(runtime.GOARCH) == lambdaArch(arch)) && source == "" {
			pkg.Binary = exe
		}
	}
	if pkg.Binary == "" {
		tmp, err := os.MkdirTemp("", "pilotlight-deploy-")
		if err != nil {
			return nil, err
		}
		defer os.RemoveAll(tmp)
		out := filepath.Join(tmp, "pilotlight")
		if err := goBuild(ctx, source, arch, out); err != nil {
			return nil, err
		}
		pkg.Binary = "built from " + source
		binary = out
	} else {
		binary = pkg.Binary
	}
	if bin, err = os.ReadFile(binary); err != nil {
		return nil, fmt.Errorf("read binary: %w", err)
	}
	if pkg.Arch, err = elfArch(bin, &pkg.Warnings); err != nil {
		return nil, fmt.Errorf("binary %s: %w", binary, err)
	}
	if arch != "" && lambdaArch(arch) != pkg.Arch {
		return nil, fmt.Errorf("binary %s is %s, not %s", binary, pkg.Arch, lambdaArch(arch))
	}

	files := map[string][]byte{"bootstrap": []byte(Bootstrap), "pilotlight": bin}
	if cfg.File == "" {
		return nil, errors.New("the config has no file to pack")
	}
	if files["pilotlight.yaml"], err = os.ReadFile(cfg.File); err != nil {
		return nil, fmt.Errorf("read config: %w", err)
	}
	// The config is validated again in Lambda: files it names must come along.
	if a := cfg.Recover.App; a != nil && a.UserData != "" {
		if filepath.IsAbs(a.UserData) || strings.HasPrefix(filepath.Clean(a.UserData), "..") {
			pkg.Warnings = append(pkg.Warnings, "user_data "+a.UserData+" is outside the config's directory and is not packed; the Lambda only protects, so it does not need it, but validation there will warn")
		} else if data, err := os.ReadFile(cfg.RelPath(a.UserData)); err == nil {
			files[filepath.ToSlash(filepath.Clean(a.UserData))] = data
		}
	}
	if !strings.HasPrefix(cfg.State.Path, "s3://") {
		pkg.Warnings = append(pkg.Warnings, "state is a local path: in Lambda it lives in /tmp and is lost between cold starts; set state.path to s3://bucket/prefix in the DR region so that `status` sees the Lambda's runs")
	}
	pkg.Zip, pkg.Files, err = zipFiles(files)
	if err != nil {
		return nil, err
	}
	sum := sha256.Sum256(pkg.Zip)
	pkg.SHA256 = base64.StdEncoding.EncodeToString(sum[:])
	return pkg, nil
}

func zipFiles(files map[string][]byte) ([]byte, []string, error) {
	names := make([]string, 0, len(files))
	for n := range files {
		names = append(names, n)
	}
	sort.Strings(names)
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for _, n := range names {
		h := &zip.FileHeader{Name: n, Method: zip.Deflate, Modified: zipTime}
		mode := os.FileMode(0o644)
		if n == "bootstrap" || n == "pilotlight" {
			mode = 0o755
		}
		h.SetMode(mode)
		w, err := zw.CreateHeader(h)
		if err != nil {
			return nil, nil, err
		}
		if _, err := io.Copy(w, bytes.NewReader(files[n])); err != nil {
			return nil, nil, err
		}
	}
	if err := zw.Close(); err != nil {
		return nil, nil, err
	}
	return buf.Bytes(), names, nil
}

// lambdaArch spells a Go or Lambda architecture as Lambda does.
func lambdaArch(a string) string {
	switch a {
	case "amd64", "x86_64":
		return "x86_64"
	case "arm64", "aarch64":
		return "arm64"
	}
	return a
}

// elfArch checks that bin is a Linux executable Lambda can run and returns
// its architecture.
func elfArch(bin []byte, warnings *[]string) (string, error) {
	f, err := elf.NewFile(bytes.NewReader(bin))
	if err != nil {
		return "", errors.New("not a Linux executable (ELF); build with GOOS=linux")
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			*warnings = append(*warnings, "the binary is dynamically linked; provided.al2023 has glibc, but a CGO_ENABLED=0 build is safer")
			break
		}
	}
	switch f.Machine {
	case elf.EM_X86_64:
		return "x86_64", nil
	case elf.EM_AARCH64:
		return "arm64", nil
	}
	return "", fmt.Errorf("architecture %s: Lambda runs x86_64 and arm64", f.Machine)
}

// goBuild builds ./cmd/pilotlight of the module in source for Linux.
func goBuild(ctx context.Context, source, arch, out string) error {
	if source == "" {
		var err error
		if source, err = findModule(); err != nil {
			return err
		}
	}
	if arch == "" {
		arch = "amd64"
	}
	goarch := map[string]string{"x86_64": "amd64", "amd64": "amd64", "arm64": "arm64", "aarch64": "arm64"}[arch]
	if goarch == "" {
		return fmt.Errorf("--arch %q: want amd64 or arm64", arch)
	}
	cmd := exec.CommandContext(ctx, "go", "build", "-trimpath", "-tags", "lambda.norpc", "-ldflags", "-s -w", "-o", out, "./cmd/pilotlight")
	cmd.Dir = source
	cmd.Env = append(os.Environ(), "GOOS=linux", "GOARCH="+goarch, "CGO_ENABLED=0")
	if msg, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("go build in %s: %w\n%s", source, err, msg)
	}
	return nil
}

// findModule walks up from the working directory to the pilotlight module.
func findModule() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		data, err := os.ReadFile(filepath.Join(dir, "go.mod"))
		if err == nil && bytes.Contains(data, []byte("module github.com/pilotlight/pilotlight\n")) {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("no pilotlight source here to build the Lambda binary from: pass --binary (a linux build of pilotlight) or --source DIR")
		}
		dir = parent
	}
}
