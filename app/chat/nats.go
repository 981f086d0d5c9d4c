package chat

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"time"

	"github.com/nats-io/nats.go"
)

// NATSPublisher publishes domain events (document.indexed) to NATS; the
// subject is the event name.
type NATSPublisher struct {
	nc *nats.Conn
}

// NewNATSPublisher connects to url; the connection keeps retrying in the
// background when the server is down, and is drained when ctx ends.
func NewNATSPublisher(ctx context.Context, url string, log *slog.Logger) (*NATSPublisher, error) {
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
	return &NATSPublisher{nc: nc}, nil
}

// Publish implements Publisher.
func (p *NATSPublisher) Publish(_ context.Context, subject string, payload any) error {
	b, err := json.Marshal(payload)
	if err != nil {
		return fmt.Errorf("encode %s event: %w", subject, err)
	}
	if err := p.nc.Publish(subject, b); err != nil {
		return fmt.Errorf("publish %s: %w", subject, err)
	}
	return nil
}
