package amqpx

import (
	"fmt"
	"testing"

	amqp "github.com/rabbitmq/amqp091-go"
	"github.com/stretchr/testify/require"
)

// broker is an amqp.Acknowledger that settles tags as the broker does and
// fails the test on a settle of a tag that is not outstanding (the channel
// error a double ack is).
type broker struct {
	t           *testing.T
	outstanding map[uint64]bool
	acks        []string
}

func (b *broker) settle(tag uint64, multiple bool) error {
	if !b.outstanding[tag] {
		b.t.Fatalf("settle of tag %d, which is not outstanding", tag)
	}
	delete(b.outstanding, tag)
	if multiple {
		for t := range b.outstanding {
			if t < tag {
				delete(b.outstanding, t)
			}
		}
	}
	return nil
}

func (b *broker) Ack(tag uint64, multiple bool) error {
	b.acks = append(b.acks, fmt.Sprintf("%d/%v", tag, multiple))
	return b.settle(tag, multiple)
}
func (b *broker) Nack(tag uint64, multiple, _ bool) error { return b.settle(tag, multiple) }
func (b *broker) Reject(tag uint64, _ bool) error         { return b.settle(tag, false) }

func (b *broker) deliveries(tags ...uint64) []amqp.Delivery {
	ds := make([]amqp.Delivery, len(tags))
	for i, tag := range tags {
		b.outstanding[tag] = true
		ds[i] = amqp.Delivery{Acknowledger: b, DeliveryTag: tag}
	}
	return ds
}

// The multiple ack never settles a delivery another goroutine holds or one
// that failed, and a batch above an unsettled tag is acked one by one.
func TestAckerMultipleAckOnlyOverSettledRuns(t *testing.T) {
	t.Parallel()
	b := &broker{t: t, outstanding: map[uint64]bool{}}
	a := newAcker()
	first := b.deliveries(1, 2, 3, 4)  // goroutine A's batch
	second := b.deliveries(5, 6, 7, 8) // goroutine B's batch

	// B finishes first, 6 failed and is rejected: A still holds 1-4, so 5,
	// 7 and 8 are acked one by one.
	require.NoError(t, second[1].Reject(false))
	a.settled(6)
	require.NoError(t, a.ack([]amqp.Delivery{second[0], second[2], second[3]}))
	require.Equal(t, []string{"5/false", "7/false", "8/false"}, b.acks)

	// A: 2 failed (retry copy sent, then acked alone); 1, 3, 4 succeeded. 1 is
	// above the floor, 2 is settled, so one multiple ack of 4 covers 1, 3, 4.
	b.acks = nil
	require.NoError(t, first[1].Ack(false))
	a.settled(2)
	require.NoError(t, a.ack([]amqp.Delivery{first[0], first[2], first[3]}))
	require.Equal(t, []string{"2/false", "4/true"}, b.acks)
	require.Empty(t, b.outstanding)
	require.Equal(t, uint64(8), a.floor)
	require.Empty(t, a.done)

	// A failure not yet settled below a success stops the run.
	b.acks = nil
	next := b.deliveries(9, 10, 11)
	require.NoError(t, a.ack([]amqp.Delivery{next[0], next[2]}))
	require.Equal(t, []string{"9/true", "11/false"}, b.acks)
	require.True(t, b.outstanding[10], "the failed delivery is not acked")
	require.NoError(t, next[1].Reject(false))
	a.settled(10)
	require.Equal(t, uint64(11), a.floor)
}
