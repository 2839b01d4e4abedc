package jetstream

import (
	"time"

	"github.com/nats-io/nats.go"
)

// ConnOptions returns the connection options a forwarder's NATS connection
// should have; add credentials, TLS and a name to them.
//
//   - RetryOnFailedConnect: nats.Connect succeeds while the server is down,
//     and the client keeps trying in the background, so a producer host
//     that boots before the cluster starts forwarding when it appears.
//   - MaxReconnects(-1): never give up reconnecting.
//   - ReconnectBufSize(-1): no publish is buffered while disconnected. The
//     forwarder waits for every acknowledgement anyway; a buffered publish
//     would only be sent later, behind the forwarder's back.
//   - ReconnectWait(time.Second), with the client's default jitter.
func ConnOptions() []nats.Option {
	return []nats.Option{
		nats.RetryOnFailedConnect(true),
		nats.MaxReconnects(-1),
		nats.ReconnectBufSize(-1),
		nats.ReconnectWait(time.Second),
	}
}
