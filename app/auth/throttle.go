package auth

import (
	"context"
	"log/slog"
	"strconv"
	"strings"
	"time"

	"tienda/app/kv"
	"tienda/app/web"
)

// LoginThrottle refuses logins after too many failures for one username or
// from one address within a window. Its counters live in the shared store
// (database or Redis), so the rule holds across instances. It protects the
// admin login and the API's token endpoint alike.
type LoginThrottle struct {
	Counter    kv.Counter
	Window     time.Duration
	MaxPerUser int64
	MaxPerIP   int64
	Log        *slog.Logger
	OnRejected func()
}

// NewLoginThrottle uses the documented defaults: 5 failures per username or
// 20 per address in 15 minutes.
func NewLoginThrottle(c kv.Counter, log *slog.Logger) *LoginThrottle {
	return &LoginThrottle{Counter: c, Window: 15 * time.Minute, MaxPerUser: 5, MaxPerIP: 20, Log: log}
}

func userKey(username string) string {
	return "login:user:" + strings.ToLower(strings.TrimSpace(username))
}
func ipKey(ip string) string { return "login:ip:" + ip }

// Check returns a RATE_LIMITED error while either limit is reached. The
// message is the same whether or not the username exists.
func (t *LoginThrottle) Check(ctx context.Context, username, ip string) error {
	for _, k := range []struct {
		key string
		max int64
	}{{userKey(username), t.MaxPerUser}, {ipKey(ip), t.MaxPerIP}} {
		n, left, err := t.Counter.Get(ctx, k.key)
		if err != nil {
			// Failing open would let a store outage disable the protection;
			// failing closed would lock everyone out. Log and let the
			// password check (which is slow by design) stand.
			t.Log.WarnContext(ctx, "login throttle unavailable", "err", err)
			return nil
		}
		if n >= k.max {
			if t.OnRejected != nil {
				t.OnRejected()
			}
			secs := int(left.Seconds()) + 1
			return &web.Error{Status: 429, Code: web.CodeRateLimited,
				Message: "Too many failed sign-in attempts. Try again in " + humanDuration(left) + ".",
				Headers: map[string]string{"Retry-After": strconv.Itoa(secs)}}
		}
	}
	return nil
}

// Fail counts a failed attempt.
func (t *LoginThrottle) Fail(ctx context.Context, username, ip string) {
	for _, k := range []string{userKey(username), ipKey(ip)} {
		if _, _, err := t.Counter.Incr(ctx, k, t.Window); err != nil {
			t.Log.WarnContext(ctx, "login throttle count", "err", err)
		}
	}
}

// Succeed clears the username's failures.
func (t *LoginThrottle) Succeed(ctx context.Context, username string) {
	if err := t.Counter.Reset(ctx, userKey(username)); err != nil {
		t.Log.WarnContext(ctx, "login throttle reset", "err", err)
	}
}

func humanDuration(d time.Duration) string {
	m := int(d.Round(time.Minute).Minutes())
	if m <= 1 {
		return "a minute"
	}
	return strconv.Itoa(m) + " minutes"
}
