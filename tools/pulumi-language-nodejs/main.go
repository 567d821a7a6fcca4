// Command pulumi-language-nodejs is the Node.js language host lisp-deploy's machines run beside the
// Pulumi CLI. It serves RunPlugin itself (Node.js policy packs and source-based component packages)
// and forwards every other LanguageRuntime call to the v3.68.0 host, which it starts as a child
// process. See README.md for why this exists.
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
	"strconv"
	"strings"
	"syscall"

	"github.com/google/shlex"
	sdk "github.com/pulumi/pulumi/sdk/v3"
	"github.com/pulumi/pulumi/sdk/v3/go/common/apitype"
	"github.com/pulumi/pulumi/sdk/v3/go/common/util/rpcutil"
	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/protobuf/types/known/emptypb"
)

// delegateEnv names the v3.68 host explicitly; without it the host is looked up beside this binary.
const delegateEnv = "LISP_DEPLOY_NODEJS_DELEGATE"

// delegateName is the file name setup-pulumi.sh gives the v3.68 host beside the CLI.
const delegateName = "pulumi-language-nodejs-delegate"

func main() {
	if err := serve(os.Args[1:]); err != nil {
		fmt.Fprintf(os.Stderr, "pulumi-language-nodejs (lisp-deploy): %v\n", err)
		os.Exit(1)
	}
}

// serve starts the delegate with our own arguments (the engine address and whatever flags the CLI
// passed), waits for the port it prints, then serves our own LanguageRuntime and prints our port.
// It returns when the delegate exits: the delegate watches the engine and stops when it goes away.
func serve(args []string) error {
	bin, err := findDelegate()
	if err != nil {
		return err
	}
	child := exec.Command(bin, args...)
	child.Stderr = os.Stderr
	// If we are killed, the delegate goes too (the CLI also kills our whole process group).
	child.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGTERM}
	childOut, err := child.StdoutPipe()
	if err != nil {
		return err
	}
	if err := child.Start(); err != nil {
		return fmt.Errorf("starting the delegate host %s: %w", bin, err)
	}
	exited := make(chan error, 1)
	go func() { exited <- child.Wait() }()

	out := bufio.NewReader(childOut)
	line, err := out.ReadString('\n')
	childPort, convErr := strconv.Atoi(strings.TrimSpace(line))
	if err != nil || convErr != nil {
		return fmt.Errorf("the delegate host %s printed no port (read %q): %v", bin, line, errors.Join(err, convErr, <-exited))
	}
	conn, err := grpc.NewClient(fmt.Sprintf("127.0.0.1:%d", childPort),
		grpc.WithTransportCredentials(insecure.NewCredentials()), rpcutil.GrpcChannelOptions())
	if err != nil {
		return err
	}
	defer conn.Close()

	cancel := make(chan bool, 1)
	handle, err := rpcutil.ServeWithOptions(rpcutil.ServeOptions{
		Cancel: cancel,
		Init: func(srv *grpc.Server) error {
			pulumirpc.RegisterLanguageRuntimeServer(srv, &host{delegate: pulumirpc.NewLanguageRuntimeClient(conn)})
			return nil
		},
	})
	if err != nil {
		return err
	}
	// The port first; then whatever else the delegate writes to stdout.
	fmt.Printf("%d\n", handle.Port)
	go func() { _, _ = io.Copy(os.Stdout, out) }()

	signals := make(chan os.Signal, 1)
	signal.Notify(signals, syscall.SIGINT, syscall.SIGTERM)
	select {
	case err = <-exited:
		// The CLI interrupts the whole process group, so the delegate often receives the signal and exits
		// before our own handler below runs: that too is a normal end, not an error to report.
		if interrupted(err) {
			err = nil
		}
	case err = <-handle.Done:
		_ = child.Process.Signal(syscall.SIGTERM)
		<-exited
	case sig := <-signals:
		// The CLI interrupts its plugins when it is done with them: a normal end.
		_ = child.Process.Signal(sig)
		<-exited
		err = nil
	}
	cancel <- true
	return err
}

// interrupted reports whether a child's Wait error says it was ended by SIGINT or SIGTERM, the signals
// the CLI stops its plugins with.
func interrupted(err error) bool {
	var exit *exec.ExitError
	if !errors.As(err, &exit) {
		return false
	}
	status, ok := exit.Sys().(syscall.WaitStatus)
	return ok && status.Signaled() && (status.Signal() == syscall.SIGINT || status.Signal() == syscall.SIGTERM)
}

// findDelegate returns the v3.68 host: $LISP_DEPLOY_NODEJS_DELEGATE, else pulumi-language-nodejs-delegate
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

// host forwards each call to the delegate unchanged, except RunPlugin.
type host struct {
	pulumirpc.UnimplementedLanguageRuntimeServer
	delegate pulumirpc.LanguageRuntimeClient
}

func (h *host) Handshake(ctx context.Context, r *pulumirpc.LanguageHandshakeRequest) (*pulumirpc.LanguageHandshakeResponse, error) {
	return h.delegate.Handshake(ctx, r)
}

func (h *host) GetRequiredPlugins(ctx context.Context, r *pulumirpc.GetRequiredPluginsRequest) (*pulumirpc.GetRequiredPluginsResponse, error) {
	return h.delegate.GetRequiredPlugins(ctx, r)
}

func (h *host) GetRequiredPackages(ctx context.Context, r *pulumirpc.GetRequiredPackagesRequest) (*pulumirpc.GetRequiredPackagesResponse, error) {
	return h.delegate.GetRequiredPackages(ctx, r)
}

func (h *host) Run(ctx context.Context, r *pulumirpc.RunRequest) (*pulumirpc.RunResponse, error) {
	return h.delegate.Run(ctx, r)
}

func (h *host) GetPluginInfo(ctx context.Context, r *emptypb.Empty) (*pulumirpc.PluginInfo, error) {
	return h.delegate.GetPluginInfo(ctx, r)
}

func (h *host) InstallDependencies(r *pulumirpc.InstallDependenciesRequest, s grpc.ServerStreamingServer[pulumirpc.InstallDependenciesResponse]) error {
	stream, err := h.delegate.InstallDependencies(s.Context(), r)
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

func (h *host) RuntimeOptionsPrompts(ctx context.Context, r *pulumirpc.RuntimeOptionsRequest) (*pulumirpc.RuntimeOptionsResponse, error) {
	return h.delegate.RuntimeOptionsPrompts(ctx, r)
}

func (h *host) Template(ctx context.Context, r *pulumirpc.TemplateRequest) (*pulumirpc.TemplateResponse, error) {
	return h.delegate.Template(ctx, r)
}

func (h *host) About(ctx context.Context, r *pulumirpc.AboutRequest) (*pulumirpc.AboutResponse, error) {
	return h.delegate.About(ctx, r)
}

func (h *host) GetProgramDependencies(ctx context.Context, r *pulumirpc.GetProgramDependenciesRequest) (*pulumirpc.GetProgramDependenciesResponse, error) {
	return h.delegate.GetProgramDependencies(ctx, r)
}

func (h *host) GenerateProgram(ctx context.Context, r *pulumirpc.GenerateProgramRequest) (*pulumirpc.GenerateProgramResponse, error) {
	return h.delegate.GenerateProgram(ctx, r)
}

func (h *host) GenerateProject(ctx context.Context, r *pulumirpc.GenerateProjectRequest) (*pulumirpc.GenerateProjectResponse, error) {
	return h.delegate.GenerateProject(ctx, r)
}

func (h *host) GeneratePackage(ctx context.Context, r *pulumirpc.GeneratePackageRequest) (*pulumirpc.GeneratePackageResponse, error) {
	return h.delegate.GeneratePackage(ctx, r)
}

func (h *host) Pack(ctx context.Context, r *pulumirpc.PackRequest) (*pulumirpc.PackResponse, error) {
	return h.delegate.Pack(ctx, r)
}

func (h *host) Link(ctx context.Context, r *pulumirpc.LinkRequest) (*pulumirpc.LinkResponse, error) {
	return h.delegate.Link(ctx, r)
}

func (h *host) Cancel(ctx context.Context, r *emptypb.Empty) (*emptypb.Empty, error) {
	return h.delegate.Cancel(ctx, r)
}

// RunPlugin runs a plugin written as a Node.js package: a policy pack (kind "analyzer", from a
// PulumiPolicy.yaml) through @pulumi/pulumi/cmd/run-policy-pack, anything else (a component package's
// PulumiPlugin.yaml) through @pulumi/pulumi/cmd/run-plugin, both resolved from the plugin's own
// directory. The process's stdout and stderr travel back in the response stream; the CLI reads the
// plugin's port from that stdout.
func (h *host) RunPlugin(req *pulumirpc.RunPluginRequest, server grpc.ServerStreamingServer[pulumirpc.RunPluginResponse]) error {
	ctx := server.Context()
	info := req.GetInfo()
	if info == nil {
		return errors.New("RunPlugin: the request carries no program info")
	}
	dir := info.GetProgramDirectory()
	analyzer := req.GetKind() == string(apitype.AnalyzerPlugin)

	closer, stdout, stderr, err := rpcutil.MakeRunPluginStreams(server, false)
	if err != nil {
		return err
	}
	defer closer.Close()

	node, err := exec.LookPath("node")
	if err != nil {
		return err
	}
	opts := map[string]any{}
	if info.GetOptions() != nil {
		opts = info.GetOptions().AsMap()
	}

	env := req.GetEnv()
	if len(env) == 0 {
		env = os.Environ()
	}
	// The TypeScript option defaults to on, as in Pulumi.yaml's nodejs runtime.
	if ts, ok := opts["typescript"]; !ok || ts == true {
		env = append(env, "PULUMI_NODEJS_TYPESCRIPT=true")
	}
	if tsconfig, ok := opts["tsconfig"].(string); ok && tsconfig != "" {
		env = append(env, "PULUMI_NODEJS_TSCONFIG_PATH="+tsconfig)
	}

	entry := "@pulumi/pulumi/cmd/run-plugin"
	if analyzer {
		entry = "@pulumi/pulumi/cmd/run-policy-pack"
	} else if p := os.Getenv("PULUMI_LANGUAGE_NODEJS_RUN_PATH"); p != "" {
		entry = p
	}
	script, err := resolveModule(ctx, node, entry, dir)
	if err != nil {
		return err
	}

	args := []string{script}
	if nodeargs, ok := opts["nodeargs"].(string); ok && nodeargs != "" {
		extra, err := shlex.Split(nodeargs)
		if err != nil {
			return fmt.Errorf("runtime option nodeargs: %w", err)
		}
		args = append(args, extra...)
	}
	cmd := exec.CommandContext(ctx, node)
	if analyzer {
		// run-policy-pack <engine address> <policy pack directory>, run in the pack's directory.
		args = append(append(args, req.GetArgs()...), dir)
		cmd.Dir = dir
	} else {
		// run-plugin <plugin directory> <the CLI's arguments>, run in the CLI's working directory.
		args = append(append(args, dir), req.GetArgs()...)
		cmd.Dir = req.GetPwd()
	}
	cmd.Args = append([]string{node}, args...)

	// A policy pack learns the stack (name, project, configuration) from the environment; the engine
	// sends it as an Analyzer ConfigureStack call, which a proxy receives before the pack starts.
	var proxy *sdk.PolicyProxy
	if analyzer {
		proxy, stdout, err = sdk.NewPolicyProxy(ctx, stdout)
		if err != nil {
			return fmt.Errorf("starting the policy pack proxy: %w", err)
		}
		stack, err := proxy.AwaitConfiguration(ctx)
		if err != nil {
			return fmt.Errorf("waiting for the stack configuration: %w", err)
		}
		env = append(env, policyEnv(stack)...)
	}

	cmd.Env = env
	cmd.Stdout, cmd.Stderr = stdout, stderr
	if err := cmd.Start(); err != nil {
		if proxy != nil {
			proxy.Abort(err)
		}
		return fmt.Errorf("starting %s: %w", node, err)
	}
	if proxy != nil {
		err = proxy.Attach(ctx, cmd)
	} else {
		err = cmd.Wait()
	}
	var exit *exec.ExitError
	if errors.As(err, &exit) {
		return fmt.Errorf("plugin %s exited with code %d", dir, exit.ExitCode())
	} else if err != nil {
		return err
	}
	return closer.Close()
}

// policyEnv is the environment @pulumi/policy reads the stack from.
func policyEnv(stack *pulumirpc.AnalyzerStackConfigureRequest) []string {
	if stack == nil {
		return nil
	}
	var env []string
	add := func(k, v string) {
		if v != "" {
			env = append(env, k+"="+v)
		}
	}
	add("PULUMI_NODEJS_ORGANIZATION", stack.GetOrganization())
	add("PULUMI_NODEJS_PROJECT", stack.GetProject())
	add("PULUMI_NODEJS_STACK", stack.GetStack())
	add("PULUMI_NODEJS_DRY_RUN", strconv.FormatBool(stack.GetDryRun()))
	if cfg := stack.GetConfig(); cfg != nil {
		if b, err := json.Marshal(cfg); err == nil {
			add("PULUMI_CONFIG", string(b))
		}
	}
	return env
}

// resolveModule asks node where mod resolves from dir (the plugin's directory, so its own
// node_modules win).
func resolveModule(ctx context.Context, node, mod, dir string) (string, error) {
	const script = `try { process.stdout.write(require.resolve(process.argv[1], { paths: [process.argv[2]] })) }` +
		` catch (e) { console.error(e.code === "MODULE_NOT_FOUND" ? "cannot find " + process.argv[1] + ": run npm install in " + process.argv[2] : e.message); process.exit(1) }`
	cmd := exec.CommandContext(ctx, node, "-e", script, mod, dir)
	cmd.Dir = dir
	var errOut strings.Builder
	cmd.Stderr = &errOut
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("resolving %s from %s: %s (%w)", mod, dir, strings.TrimSpace(errOut.String()), err)
	}
	return string(out), nil
}
