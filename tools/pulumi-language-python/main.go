// Command pulumi-language-python is the Python language host lisp-deploy's machines run beside the Pulumi
// CLI. It serves what the v3.68.0 host (the newest one these machines can build) lacks: SDK generation
// (GeneratePackage, Link: `pulumi package gen-sdk`, `pulumi package add`, `pulumi install` with a
// `packages:` entry) and Pulumi.yaml's runtime options, which the CLI now sends with each request
// instead of as command-line flags. Every other LanguageRuntime call goes to the v3.68.0 host, started
// with those options as the flags it reads. See README.md for why this exists.
package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	codegen "github.com/pulumi/pulumi/pkg/v3/codegen/python"
	"github.com/pulumi/pulumi/pkg/v3/codegen/schema"
	"github.com/pulumi/pulumi/sdk/v3/go/common/resource/plugin"
	"github.com/pulumi/pulumi/sdk/v3/go/common/util/rpcutil"
	"github.com/pulumi/pulumi/sdk/v3/go/common/version"
	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/protobuf/types/known/emptypb"
)

// delegateEnv names the v3.68 host explicitly; without it the host is looked up beside this binary.
const delegateEnv = "LISP_DEPLOY_PYTHON_DELEGATE"

// delegateName is the file name setup-pulumi.sh gives the v3.68 host beside the CLI.
const delegateName = "pulumi-language-python-delegate"

func main() {
	if err := serve(os.Args[1:]); err != nil {
		fmt.Fprintf(os.Stderr, "pulumi-language-python (lisp-deploy): %v\n", err)
		os.Exit(1)
	}
}

// serve prints our port and serves until the engine goes away (or we are told to stop). The delegate is
// started on the first call that needs it, because only requests carry the program's runtime options.
func serve(args []string) error {
	bin, err := findDelegate()
	if err != nil {
		return err
	}
	h := &host{bin: bin, args: args}
	defer h.stop()

	ctx, cancelCtx := context.WithCancel(context.Background())
	defer cancelCtx()
	cancel := make(chan bool, 1)
	// The CLI passes the engine's address as the last argument; like every language host, stop when it
	// stops answering.
	if len(args) > 0 && !strings.HasPrefix(args[len(args)-1], "-") {
		if err := rpcutil.Healthcheck(ctx, args[len(args)-1], 5*time.Minute, cancelCtx); err != nil {
			return fmt.Errorf("health check of the engine: %w", err)
		}
	}
	handle, err := rpcutil.ServeWithOptions(rpcutil.ServeOptions{
		Cancel: cancel,
		Init: func(srv *grpc.Server) error {
			pulumirpc.RegisterLanguageRuntimeServer(srv, h)
			return nil
		},
	})
	if err != nil {
		return err
	}
	fmt.Printf("%d\n", handle.Port)

	signals := make(chan os.Signal, 1)
	signal.Notify(signals, syscall.SIGINT, syscall.SIGTERM)
	select {
	case err = <-handle.Done:
	case <-ctx.Done():
	case <-signals:
		// The CLI interrupts its plugins when it is done with them: a normal end.
	}
	cancel <- true
	return err
}

// findDelegate returns the v3.68 host: $LISP_DEPLOY_PYTHON_DELEGATE, else pulumi-language-python-delegate
// beside the path we were started as (the CLI's bin directory), else beside our resolved executable.
func findDelegate() (string, error) {
	if p := os.Getenv(delegateEnv); p != "" {
		return p, nil
	}
	dirs := []string{filepath.Dir(os.Args[0])}
	if exe, err := os.Executable(); err == nil {
		dirs = append(dirs, filepath.Dir(exe))
	}
	for _, d := range dirs {
		p := filepath.Join(d, delegateName)
		if st, err := os.Stat(p); err == nil && !st.IsDir() {
			return p, nil
		}
	}
	return "", fmt.Errorf("no %s beside %v (set %s); run scripts/setup-pulumi.sh", delegateName, dirs, delegateEnv)
}

// host serves GeneratePackage and Link itself and forwards the rest to the delegate.
type host struct {
	pulumirpc.UnimplementedLanguageRuntimeServer
	bin  string
	args []string

	mu     sync.Mutex
	child  *exec.Cmd
	conn   *grpc.ClientConn
	client pulumirpc.LanguageRuntimeClient
}

// delegateFlags turns Pulumi.yaml's runtime options (as the request carries them) into the flags the
// v3.68 host reads: -root, and -virtualenv (resolved by that host against -root). Only the pip toolchain
// exists in that host; asking for another one fails here rather than silently using pip.
func delegateFlags(info *pulumirpc.ProgramInfo) ([]string, error) {
	if info == nil {
		return nil, nil
	}
	opts := map[string]any{}
	if info.GetOptions() != nil {
		opts = info.GetOptions().AsMap()
	}
	if tc, ok := opts["toolchain"].(string); ok && tc != "" && tc != "pip" {
		return nil, fmt.Errorf("runtime option toolchain: %q is not supported by this host (pip only; see tools/pulumi-language-python/README.md)", tc)
	}
	var flags []string
	if root := info.GetRootDirectory(); root != "" {
		flags = append(flags, "-root="+root)
	}
	if venv, ok := opts["virtualenv"].(string); ok && venv != "" {
		flags = append(flags, "-virtualenv="+venv)
	}
	return flags, nil
}

// delegate returns the client of the v3.68 host, starting it with the options of info the first time.
// One host process serves one program, so the first request's options are the program's options.
func (h *host) delegate(info *pulumirpc.ProgramInfo) (pulumirpc.LanguageRuntimeClient, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.client != nil {
		return h.client, nil
	}
	flags, err := delegateFlags(info)
	if err != nil {
		return nil, err
	}
	child := exec.Command(h.bin, append(flags, h.args...)...)
	child.Stderr = os.Stderr
	// If we are killed, the delegate goes too.
	child.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGTERM}
	childOut, err := child.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := child.Start(); err != nil {
		return nil, fmt.Errorf("starting the delegate host %s: %w", h.bin, err)
	}
	out := bufio.NewReader(childOut)
	line, err := out.ReadString('\n')
	port, convErr := strconv.Atoi(strings.TrimSpace(line))
	if err != nil || convErr != nil {
		_ = child.Process.Kill()
		return nil, fmt.Errorf("the delegate host %s printed no port (read %q): %v", h.bin, line, errors.Join(err, convErr, child.Wait()))
	}
	// Whatever else it prints to stdout goes where ours goes.
	go func() { _, _ = io.Copy(os.Stdout, out) }()
	conn, err := grpc.NewClient(fmt.Sprintf("127.0.0.1:%d", port),
		grpc.WithTransportCredentials(insecure.NewCredentials()), rpcutil.GrpcChannelOptions())
	if err != nil {
		_ = child.Process.Kill()
		return nil, err
	}
	h.child, h.conn, h.client = child, conn, pulumirpc.NewLanguageRuntimeClient(conn)
	return h.client, nil
}

func (h *host) stop() {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.conn != nil {
		_ = h.conn.Close()
	}
	if h.child != nil {
		_ = h.child.Process.Signal(syscall.SIGTERM)
		_ = h.child.Wait()
	}
}

func (h *host) GetRequiredPlugins(ctx context.Context, r *pulumirpc.GetRequiredPluginsRequest) (*pulumirpc.GetRequiredPluginsResponse, error) {
	d, err := h.delegate(r.GetInfo())
	if err != nil {
		return nil, err
	}
	return d.GetRequiredPlugins(ctx, r)
}

func (h *host) GetRequiredPackages(ctx context.Context, r *pulumirpc.GetRequiredPackagesRequest) (*pulumirpc.GetRequiredPackagesResponse, error) {
	d, err := h.delegate(r.GetInfo())
	if err != nil {
		return nil, err
	}
	return d.GetRequiredPackages(ctx, r)
}

func (h *host) Run(ctx context.Context, r *pulumirpc.RunRequest) (*pulumirpc.RunResponse, error) {
	d, err := h.delegate(r.GetInfo())
	if err != nil {
		return nil, err
	}
	return d.Run(ctx, r)
}

// GetPluginInfo answers with the CLI release this binary was built for, without starting the delegate.
func (h *host) GetPluginInfo(ctx context.Context, r *emptypb.Empty) (*pulumirpc.PluginInfo, error) {
	return &pulumirpc.PluginInfo{Version: strings.TrimPrefix(version.Version, "v")}, nil
}

func (h *host) InstallDependencies(r *pulumirpc.InstallDependenciesRequest, s grpc.ServerStreamingServer[pulumirpc.InstallDependenciesResponse]) error {
	d, err := h.delegate(r.GetInfo())
	if err != nil {
		return err
	}
	stream, err := d.InstallDependencies(s.Context(), r)
	if err != nil {
		return err
	}
	for {
		msg, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			return nil
		} else if err != nil {
			return err
		}
		if err := s.Send(msg); err != nil {
			return err
		}
	}
}

func (h *host) About(ctx context.Context, r *pulumirpc.AboutRequest) (*pulumirpc.AboutResponse, error) {
	d, err := h.delegate(r.GetInfo())
	if err != nil {
		return nil, err
	}
	return d.About(ctx, r)
}

func (h *host) GetProgramDependencies(ctx context.Context, r *pulumirpc.GetProgramDependenciesRequest) (*pulumirpc.GetProgramDependenciesResponse, error) {
	d, err := h.delegate(r.GetInfo())
	if err != nil {
		return nil, err
	}
	return d.GetProgramDependencies(ctx, r)
}

func (h *host) Cancel(ctx context.Context, r *emptypb.Empty) (*emptypb.Empty, error) {
	h.mu.Lock()
	d := h.client
	h.mu.Unlock()
	if d == nil {
		return &emptypb.Empty{}, nil
	}
	return d.Cancel(ctx, r)
}

// GeneratePackage writes a Python SDK for the schema into the requested directory, with the Python code
// generator of the CLI's own release (the one `pulumi-language-python` of that release uses).
func (h *host) GeneratePackage(ctx context.Context, r *pulumirpc.GeneratePackageRequest) (*pulumirpc.GeneratePackageResponse, error) {
	loader, err := schema.NewLoaderClient(r.GetLoaderTarget())
	if err != nil {
		return nil, err
	}
	defer loader.Close()
	var spec schema.PackageSpec
	if err := json.Unmarshal([]byte(r.GetSchema()), &spec); err != nil {
		return nil, fmt.Errorf("reading the schema: %w", err)
	}
	cached := schema.NewCachedLoader(loader)
	pkg, diags, err := schema.BindSpec(spec, cached, schema.ValidationOptions{AllowDanglingReferences: true})
	if err != nil {
		return nil, err
	}
	if diags.HasErrors() {
		return &pulumirpc.GeneratePackageResponse{Diagnostics: plugin.HclDiagnosticsToRPCDiagnostics(diags)}, nil
	}
	files, err := codegen.GeneratePackage("pulumi-language-python", pkg, r.GetExtraFiles(), cached)
	if err != nil {
		return nil, err
	}
	for name, data := range files {
		out := filepath.Join(r.GetDirectory(), name)
		if err := os.MkdirAll(filepath.Dir(out), 0o700); err != nil {
			return nil, err
		}
		if err := os.WriteFile(out, data, 0o600); err != nil {
			return nil, err
		}
	}
	return &pulumirpc.GeneratePackageResponse{Diagnostics: plugin.HclDiagnosticsToRPCDiagnostics(diags)}, nil
}

// Link makes generated SDKs dependencies of the program the pip way: each SDK directory, relative to the
// program, becomes a line of its requirements.txt (once), which InstallDependencies then installs into
// the program's virtualenv. It answers with the import the program writes.
func (h *host) Link(ctx context.Context, r *pulumirpc.LinkRequest) (*pulumirpc.LinkResponse, error) {
	info := r.GetInfo()
	if info == nil {
		return nil, errors.New("Link: the request carries no program info")
	}
	if _, err := delegateFlags(info); err != nil {
		return nil, err
	}
	dir := info.GetProgramDirectory()
	reqFile := filepath.Join(dir, "requirements.txt")
	text, err := os.ReadFile(reqFile)
	if err != nil && !os.IsNotExist(err) {
		return nil, err
	}
	lines := strings.Split(strings.TrimRight(string(text), "\n"), "\n")
	if len(text) == 0 {
		lines = nil
	}
	have := map[string]bool{}
	for _, l := range lines {
		have[strings.TrimSpace(l)] = true
	}
	var imports []string
	for _, dep := range r.GetPackages() {
		path := dep.GetPath()
		if filepath.IsAbs(path) {
			if rel, err := filepath.Rel(dir, path); err == nil {
				path = rel
			}
		}
		path = filepath.ToSlash(path)
		if !have[path] {
			lines = append(lines, path)
			have[path] = true
		}
		name := dep.GetPackage().GetName()
		module := "pulumi_" + strings.ReplaceAll(name, "-", "_")
		imports = append(imports, fmt.Sprintf("  import %s as %s", module, strings.ReplaceAll(name, "-", "_")))
	}
	if err := os.WriteFile(reqFile, []byte(strings.Join(lines, "\n")+"\n"), 0o644); err != nil {
		return nil, err
	}
	sort.Strings(imports)
	return &pulumirpc.LinkResponse{ImportInstructions: "You can then import the SDK in your Python code with:\n\n" + strings.Join(imports, "\n")}, nil
}
