package bench

import (
	"bufio"
	"context"
	"os"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	amqp "github.com/rabbitmq/amqp091-go"
	"github.com/redis/go-redis/v9"
)

// Machine describes where a report was measured, so figures are compared
// only with figures from the same kind of machine.
type Machine struct {
	CPUs       int     `json:"cpus"`
	GOMAXPROCS int     `json:"gomaxprocs"`
	MemoryGiB  float64 `json:"memory_gib"`
	OS         string  `json:"os"`
	Arch       string  `json:"arch"`
	Go         string  `json:"go"`
	Postgres   string  `json:"postgres"`
	Redis      string  `json:"redis"`
	RabbitMQ   string  `json:"rabbitmq"`
	// LoadAvg is /proc/loadavg's 1, 5 and 15 minute load when the run
	// started: on a shared machine, the context every figure needs.
	LoadAvg string `json:"load_avg"`
}

// Services are the URLs of the infrastructure a run uses.
type Services struct {
	DatabaseURL string
	RedisURL    string
	AMQPURL     string
}

// DescribeMachine collects the machine's shape and the services' versions.
// It never fails: what cannot be found is reported as "unknown".
func DescribeMachine(ctx context.Context, s Services) Machine {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	return Machine{
		CPUs:       runtime.NumCPU(),
		GOMAXPROCS: runtime.GOMAXPROCS(0),
		MemoryGiB:  memoryGiB(),
		OS:         runtime.GOOS,
		Arch:       runtime.GOARCH,
		Go:         runtime.Version(),
		Postgres:   postgresVersion(ctx, s.DatabaseURL),
		Redis:      redisVersion(ctx, s.RedisURL),
		RabbitMQ:   rabbitVersion(s.AMQPURL),
		LoadAvg:    loadAvg(),
	}
}

const unknown = "unknown"

func memoryGiB() float64 {
	f, err := os.Open("/proc/meminfo")
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) >= 2 && fields[0] == "MemTotal:" {
			kb, _ := strconv.ParseFloat(fields[1], 64)
			return kb / (1 << 20)
		}
	}
	return 0
}

func postgresVersion(ctx context.Context, url string) string {
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		return unknown
	}
	defer conn.Close(context.WithoutCancel(ctx))
	var v string
	if err := conn.QueryRow(ctx, "SHOW server_version").Scan(&v); err != nil {
		return unknown
	}
	return v
}

func redisVersion(ctx context.Context, url string) string {
	opt, err := redis.ParseURL(url)
	if err != nil {
		return unknown
	}
	c := redis.NewClient(opt)
	defer c.Close()
	info, err := c.Info(ctx, "server").Result()
	if err != nil {
		return unknown
	}
	for line := range strings.SplitSeq(info, "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), "redis_version:"); ok {
			return v
		}
	}
	return unknown
}

func rabbitVersion(url string) string {
	conn, err := amqp.DialConfig(url, amqp.Config{Dial: amqp.DefaultDial(5 * time.Second)})
	if err != nil {
		return unknown
	}
	defer conn.Close()
	if v, ok := conn.Properties["version"].(string); ok {
		return v
	}
	return unknown
}

func loadAvg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return unknown
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return unknown
	}
	return strings.Join(f[:3], " ")
}
