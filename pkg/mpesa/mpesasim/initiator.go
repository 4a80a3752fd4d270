package mpesasim

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/pem"
	"math/big"
	"time"
)

// keys is the simulator's own key pair and certificate, standing in for
// Safaricom's: a SecurityCredential encrypted with Certificate is decrypted
// with key and compared with the initiator password. Made on first use
// (RSA key generation is slow).
type keys struct {
	key     *rsa.PrivateKey
	certPEM []byte
}

// CertificatePEM is the certificate whose public key encrypts the
// SecurityCredential this simulator accepts (what FUNDIGO_MPESA_CERT_FILE
// names when running against it).
func (s *Sim) CertificatePEM() []byte { return s.keyPair().certPEM }

func (s *Sim) keyPair() *keys {
	s.keysOnce.Do(func() {
		key, err := rsa.GenerateKey(rand.Reader, 2048)
		if err != nil {
			panic("mpesasim: generate key: " + err.Error()) // crypto/rand failing is not recoverable
		}
		tmpl := &x509.Certificate{
			SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "mpesasim initiator certificate"},
			NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(10 * 365 * 24 * time.Hour),
		}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
		if err != nil {
			panic("mpesasim: create certificate: " + err.Error())
		}
		s.keys = &keys{key: key, certPEM: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})}
	})
	return s.keys
}

// credentialOK decrypts a SecurityCredential and compares it with the
// initiator password, as Daraja does.
func (s *Sim) credentialOK(name, credential string) bool {
	if name != s.cfg.InitiatorName {
		return false
	}
	ct, err := base64.StdEncoding.DecodeString(credential)
	if err != nil {
		return false
	}
	// The simulator plays Daraja, which uses PKCS #1 v1.5; it answers only
	// accepted/refused, with its own development key pair.
	pt, err := rsa.DecryptPKCS1v15(nil, s.keyPair().key, ct) //nolint:staticcheck // Daraja's SecurityCredential is PKCS #1 v1.5
	return err == nil && string(pt) == s.cfg.InitiatorPassword
}
