// Package redisconn turns FUNDIGO_REDIS_URL into a go-redis client and the
// matching Asynq connection option, for a single server or a Sentinel-managed
// primary.
//
// Accepted forms:
//
//	redis://[[user]:password@]host:port[/db]         one server (rediss:// for TLS)
//	redis-sentinel://[[user]:password@]host:port[,host:port...][/db]?master=NAME[&sentinel_password=P][&sentinel_username=U]
//
// In the sentinel form the hosts are the Sentinels (not the Redis servers),
// master is the name the Sentinels monitor, user/password authenticate to the
// Redis primary and sentinel_password/sentinel_username to the Sentinels.
// Clients always talk to the current primary and follow a failover.
//
// Redis Cluster URLs are not supported: Asynq's queues, the rate limiter's
// scripts and the lease keys span several keys that a cluster would shard.
package redisconn

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"

	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/extra/redisotel/v9"
	"github.com/redis/go-redis/v9"
)

// Trace adds OpenTelemetry tracing to c (one span per command or
// pipeline, under the caller's span). Commands' arguments are left out of
// the spans: keys and values may name users or phones.
func Trace(c redis.UniversalClient) error {
	if err := redisotel.InstrumentTracing(c, redisotel.WithDBStatement(false)); err != nil {
		return fmt.Errorf("trace redis client: %w", err)
	}
	return nil
}

// SentinelScheme is the URL scheme selecting a Sentinel-managed primary.
const SentinelScheme = "redis-sentinel"

// maxSentinels caps the host list of one URL.
const maxSentinels = 16

// Open parses rawURL and returns the go-redis client and the Asynq option
// for it. Errors never echo the URL (it may carry a password).
func Open(rawURL string) (*redis.Client, asynq.RedisConnOpt, error) {
	if strings.HasPrefix(rawURL, SentinelScheme+"://") {
		fo, err := ParseSentinel(rawURL)
		if err != nil {
			return nil, nil, err
		}
		return redis.NewFailoverClient(fo), asynq.RedisFailoverClientOpt{
			MasterName: fo.MasterName, SentinelAddrs: fo.SentinelAddrs,
			SentinelUsername: fo.SentinelUsername, SentinelPassword: fo.SentinelPassword,
			Username: fo.Username, Password: fo.Password, DB: fo.DB,
		}, nil
	}
	ropt, err := redis.ParseURL(rawURL)
	if err != nil {
		return nil, nil, errors.New("invalid redis URL")
	}
	return redis.NewClient(ropt), asynq.RedisClientOpt{
		Addr: ropt.Addr, Username: ropt.Username, Password: ropt.Password, DB: ropt.DB, TLSConfig: ropt.TLSConfig,
	}, nil
}

// ParseSentinel parses the redis-sentinel:// form (see the package comment).
func ParseSentinel(rawURL string) (*redis.FailoverOptions, error) {
	rest, ok := strings.CutPrefix(rawURL, SentinelScheme+"://")
	if !ok {
		return nil, errors.New("redis sentinel URL: scheme must be " + SentinelScheme)
	}
	// net/url rejects a comma-separated host list, so split by hand.
	var query string
	rest, query, _ = strings.Cut(rest, "?")
	hostpart, path, _ := strings.Cut(rest, "/")
	fo := &redis.FailoverOptions{}
	if at := strings.LastIndex(hostpart, "@"); at >= 0 {
		user, pass, _ := strings.Cut(hostpart[:at], ":")
		var err1, err2 error
		fo.Username, err1 = url.PathUnescape(user)
		fo.Password, err2 = url.PathUnescape(pass)
		if err1 != nil || err2 != nil {
			return nil, errors.New("redis sentinel URL: invalid user info")
		}
		hostpart = hostpart[at+1:]
	}
	hosts := strings.Split(hostpart, ",")
	if len(hosts) > maxSentinels {
		return nil, fmt.Errorf("redis sentinel URL: more than %d sentinels", maxSentinels)
	}
	for _, h := range hosts {
		host, port, err := net.SplitHostPort(h)
		if err != nil || host == "" {
			return nil, errors.New("redis sentinel URL: each sentinel must be host:port")
		}
		if p, err := strconv.Atoi(port); err != nil || p < 1 || p > 65535 {
			return nil, errors.New("redis sentinel URL: invalid sentinel port")
		}
		fo.SentinelAddrs = append(fo.SentinelAddrs, h)
	}
	if path = strings.Trim(path, "/"); path != "" {
		db, err := strconv.Atoi(path)
		if err != nil || db < 0 || db > 15 {
			return nil, errors.New("redis sentinel URL: database must be 0-15")
		}
		fo.DB = db
	}
	q, err := url.ParseQuery(query)
	if err != nil {
		return nil, errors.New("redis sentinel URL: invalid query")
	}
	for k := range q {
		switch k {
		case "master", "sentinel_password", "sentinel_username":
		default:
			return nil, fmt.Errorf("redis sentinel URL: unknown parameter %q", k)
		}
	}
	fo.MasterName = q.Get("master")
	if fo.MasterName == "" {
		return nil, errors.New("redis sentinel URL: master=NAME is required")
	}
	fo.SentinelPassword = q.Get("sentinel_password")
	fo.SentinelUsername = q.Get("sentinel_username")
	return fo, nil
}
