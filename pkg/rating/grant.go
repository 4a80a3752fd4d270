package rating

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"fundigo/pkg/events"
)

// MaxGrantTTL is the longest a review grant may still be valid when it is
// presented: grants are short-lived, minted by the Django app when the
// customer opens the review screen of a finished job.
const MaxGrantTTL = 24 * time.Hour

// GrantTokenType is the token_type claim a review grant may carry (it is
// optional; any other token_type, such as SimpleJWT's "access" or
// "refresh", is refused, so no other token doubles as a grant).
const GrantTokenType = "review_grant"

// ErrNotAllowed: the author may not post this review (no or bad grant, a
// grant for another job, customer or technician). Entry points map it to
// 403; the error text says why and contains no secret.
var ErrNotAllowed = errors.New("review not allowed")

// Author is who submits a review.
type Author struct {
	// Service: a service principal (API key, or the Django app publishing
	// review.created), trusted to post reviews on behalf of customers.
	Service bool
	// UserID is the user id of a user token (Service false).
	UserID string
	// Grant is the review grant the user presented (a JWT, see Grant).
	Grant string
}

// ServiceAuthor is a service principal.
var ServiceAuthor = Author{Service: true}

// Grant is a review grant: the Django app's signed statement that customer
// CustomerID may review technician TechnicianID for job JobID, until
// ExpiresAt. It travels as an HS256 JWT signed with the JWT signing key
// (FUNDIGO_JWT_SECRET) whose claims are job_id, customer_id, technician_id
// (strings or integers) and exp, plus optionally token_type "review_grant".
type Grant struct {
	JobID        string
	CustomerID   string
	TechnicianID string
	ExpiresAt    time.Time
}

type grantClaims struct {
	JobID        events.ExternalID `json:"job_id"`
	CustomerID   events.ExternalID `json:"customer_id"`
	TechnicianID events.ExternalID `json:"technician_id"`
	TokenType    *string           `json:"token_type"`
	jwt.RegisteredClaims
}

// ParseGrant verifies a review grant with key at time now: HS256 only, exp
// required and in (now, now+MaxGrantTTL], the three ids present, token_type
// absent or "review_grant". Every failure wraps ErrNotAllowed.
func ParseGrant(raw string, key []byte, now time.Time) (Grant, error) {
	if len(key) == 0 {
		return Grant{}, fmt.Errorf("%w: review grants cannot be verified (no JWT key configured)", ErrNotAllowed)
	}
	var c grantClaims
	p := jwt.NewParser(jwt.WithValidMethods([]string{jwt.SigningMethodHS256.Alg()}), jwt.WithExpirationRequired(),
		jwt.WithTimeFunc(func() time.Time { return now }))
	if _, err := p.ParseWithClaims(raw, &c, func(*jwt.Token) (any, error) { return key, nil }); err != nil {
		return Grant{}, fmt.Errorf("%w: invalid review grant: %w", ErrNotAllowed, err)
	}
	if c.TokenType != nil && *c.TokenType != GrantTokenType {
		return Grant{}, fmt.Errorf("%w: token_type %q is not a review grant", ErrNotAllowed, *c.TokenType)
	}
	trim := func(id events.ExternalID) string { return strings.TrimSpace(string(id)) }
	g := Grant{JobID: trim(c.JobID), CustomerID: trim(c.CustomerID), TechnicianID: trim(c.TechnicianID), ExpiresAt: c.ExpiresAt.Time}
	if g.JobID == "" || g.CustomerID == "" || g.TechnicianID == "" {
		return Grant{}, fmt.Errorf("%w: a review grant needs job_id, customer_id and technician_id", ErrNotAllowed)
	}
	if g.ExpiresAt.After(now.Add(MaxGrantTTL)) {
		return Grant{}, fmt.Errorf("%w: a review grant may be valid for at most %s", ErrNotAllowed, MaxGrantTTL)
	}
	return g, nil
}

// Authorize applies the ownership rule to a normalized, valid review: a
// service may post any review; a user may post only as the customer of its
// own token, with a valid grant (key, now) for exactly this job, customer
// and technician. So a user cannot review a made-up job, a job of another
// customer (taking its job id first) or another technician than the job's.
// Self-reviews are refused earlier, by Validate.
func Authorize(a Author, in events.ReviewCreated, key []byte, now time.Time) error {
	if a.Service {
		return nil
	}
	if a.UserID == "" || a.UserID != string(in.CustomerID) {
		return fmt.Errorf("%w: a user may only submit reviews as the customer_id of its own token", ErrNotAllowed)
	}
	if a.Grant == "" {
		return fmt.Errorf("%w: a user needs a review grant for the job (X-Review-Grant)", ErrNotAllowed)
	}
	g, err := ParseGrant(a.Grant, key, now)
	if err != nil {
		return err
	}
	if g.JobID != string(in.JobID) || g.CustomerID != string(in.CustomerID) || g.TechnicianID != string(in.TechnicianID) {
		return fmt.Errorf("%w: the review grant is for another job, customer or technician", ErrNotAllowed)
	}
	return nil
}
