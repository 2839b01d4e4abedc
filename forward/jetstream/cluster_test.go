package jetstream

import (
	"context"
	"fmt"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	natsjs "github.com/nats-io/nats.go/jetstream"

	"github.com/capq/capq/queue"
)

// startCluster starts a three-node JetStream cluster on loopback and
// returns its servers, keyed by name.
func startCluster(t *testing.T) map[string]*server.Server {
	t.Helper()
	ports := []int{freePort(t), freePort(t), freePort(t)}
	var routes []*url.URL
	for _, p := range ports {
		routes = append(routes, &url.URL{Scheme: "nats-route", Host: fmt.Sprintf("127.0.0.1:%d", p)})
	}
	servers := map[string]*server.Server{}
	for i, p := range ports {
		name := fmt.Sprintf("n%d", i+1)
		o := serverOptions(name, t.TempDir(), 0)
		o.Cluster = server.ClusterOpts{Name: "capq", Host: "127.0.0.1", Port: p}
		o.Routes = routes
		s, err := server.NewServer(o)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(s.Shutdown)
		s.Start()
		servers[name] = s
	}
	for name, s := range servers {
		if !s.ReadyForConnections(waitLimit) {
			t.Fatalf("%s not ready", name)
		}
	}
	return servers
}

// streamLeader returns the name of the stream's current leader, or "".
func streamLeader(js natsjs.JetStream, stream string) string {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	st, err := js.Stream(ctx, stream)
	if err != nil {
		return ""
	}
	info, err := st.Info(ctx)
	if err != nil || info.Cluster == nil {
		return ""
	}
	return info.Cluster.Leader
}

// TestClusterLeaderLoss forwards into an R3 stream on a three-node
// cluster and shuts the stream's leader down in the middle: forwarding
// resumes on the new leader, and the stream holds every record exactly
// once, in order.
func TestClusterLeaderLoss(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a three-node cluster")
	}
	servers := startCluster(t)
	var urls []string
	for _, s := range servers {
		urls = append(urls, s.ClientURL())
	}
	all := strings.Join(urls, ",")
	_, admin := connect(t, all)
	cfg := streamConfig()
	cfg.Replicas = 3
	createStream(t, admin, cfg)
	var leader string
	waitFor(t, "a stream leader", func() bool { leader = streamLeader(admin, "CAPTURE"); return leader != "" })

	q := openQueue(t, t.TempDir(), queue.Options{MaxSize: -1})
	want := fill(t, q, "p", 0, 1000)
	_, js := connect(t, all)
	f, err := New(q, js, Config{Subject: "capture.p", Stream: "CAPTURE", Follow: true, PollInterval: 10 * time.Millisecond, PublishTimeout: 2 * time.Second, Backoff: fastBackoff, Logger: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	stop := runForwarder(t, f)

	waitFor(t, "200 records forwarded", func() bool { return f.State().Forwarded >= 200 })
	servers[leader].Shutdown()
	servers[leader].WaitForShutdown()
	left := queueCount(t, q)
	t.Logf("stopped stream leader %s with %d records left", leader, left)
	if left == 0 {
		t.Fatal("the forward ended before the leader stopped: nothing tested")
	}

	var newLeader string
	waitFor(t, "a new stream leader", func() bool {
		newLeader = streamLeader(admin, "CAPTURE")
		return newLeader != "" && newLeader != leader
	})
	waitFor(t, "the queue to drain", func() bool { return queueCount(t, q) == 0 })
	stop()
	checkExactlyOnce(t, readStream(t, admin, "CAPTURE"), want)
	st := f.State()
	t.Logf("new leader %s; forwarded %d, duplicates %d, failed passes %d", newLeader, st.Forwarded, st.Duplicates, st.FailedPasses)
}
