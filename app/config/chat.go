package config

import (
	"fmt"
	"strconv"
	"strings"
)

// ChatConfig is the knowledge base and chat configuration (besides the
// LLM_* variables of Config).
type ChatConfig struct {
	// DailyTokenBudget is the tokens each user may spend on chat per UTC
	// day (CHAT_DAILY_TOKEN_BUDGET; 0 = unlimited).
	DailyTokenBudget int64
	// IndexWorkers is the number of indexing workers per instance
	// (CHAT_INDEX_WORKERS, default 1).
	IndexWorkers int
	// NATSURL, when set, is where document.indexed events are published
	// (NATS_URL, e.g. nats://127.0.0.1:4222).
	NATSURL string
}

// loadChatConfig reads the CHAT_* variables; get returns def when unset.
func loadChatConfig(get func(k, def string) string) (ChatConfig, error) {
	var c ChatConfig
	b, err := strconv.ParseInt(get("CHAT_DAILY_TOKEN_BUDGET", "0"), 10, 64)
	if err != nil || b < 0 {
		return c, fmt.Errorf("CHAT_DAILY_TOKEN_BUDGET must be a whole number of tokens, 0 or more (0: unlimited)")
	}
	c.DailyTokenBudget = b
	w, err := strconv.Atoi(get("CHAT_INDEX_WORKERS", "1"))
	if err != nil || w < 1 || w > 16 {
		return c, fmt.Errorf("CHAT_INDEX_WORKERS must be a whole number from 1 to 16")
	}
	c.IndexWorkers = w
	c.NATSURL = get("NATS_URL", "")
	if c.NATSURL != "" && !strings.HasPrefix(c.NATSURL, "nats://") && !strings.HasPrefix(c.NATSURL, "tls://") {
		return c, fmt.Errorf("NATS_URL must be a nats:// or tls:// URL")
	}
	return c, nil
}
