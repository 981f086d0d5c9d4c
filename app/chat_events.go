package app

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"time"

	"github.com/nats-io/nats.go"
)

// natsPublisher publishes domain events (document.indexed) to NATS; the
// subject is the event name.
type natsPublisher struct {
	nc *nats.Conn
}

// newNATSPublisher connects to url; the connection keeps retrying in the
// background when the server is down, and is drained when ctx ends.
func newNATSPublisher(ctx context.Context, url string, log *slog.Logger) (*natsPublisher, error) {
	nc, err := nats.Connect(url, nats.Name("tienda"), nats.RetryOnFailedConnect(true), nats.MaxReconnects(-1),
		nats.ReconnectWait(2*time.Second), nats.Timeout(5*time.Second),
		nats.DisconnectErrHandler(func(_ *nats.Conn, err error) {
			if err != nil {
				log.Warn("nats disconnected", "err", err)
			}
		}))
	if err != nil {
		return nil, fmt.Errorf("connect to NATS: %w", err)
	}
	go func() {
		<-ctx.Done()
		_ = nc.Drain()
	}()
	return &natsPublisher{nc: nc}, nil
}

// Publish implements chat.Publisher.
func (p *natsPublisher) Publish(_ context.Context, subject string, payload any) error {
	b, err := json.Marshal(payload)
	if err != nil {
		return fmt.Errorf("encode %s event: %w", subject, err)
	}
	if err := p.nc.Publish(subject, b); err != nil {
		return fmt.Errorf("publish %s: %w", subject, err)
	}
	return nil
}
