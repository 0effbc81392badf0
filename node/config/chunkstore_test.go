package config

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
)

func TestChunkStoreConfig(t *testing.T) {
	dir := t.TempDir()
	write := func(name, text string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	creds := write("s3.credentials", "access_key = \"AK\"\nsecret_key = \"SK\"\n")
	c, err := Load(write("ok.toml", "version = 1\n[chunk_store]\nkind = \"s3\"\nendpoint = \"s3.court.example:9000\"\nbucket = \"cm\"\nprefix = \"c1/\"\ncredentials_file = \""+creds+"\"\n"))
	if err != nil {
		t.Fatal(err)
	}
	o, err := c.ChunkStore.S3Options(0)
	if err != nil {
		t.Fatal(err)
	}
	if o.Endpoint != "s3.court.example:9000" || !o.Secure || o.Bucket != "cm" || o.Prefix != "c1/" || o.AccessKey != "AK" || o.SecretKey != "SK" {
		t.Errorf("options %+v", o)
	}

	// From the environment when no file is named.
	c.ChunkStore.CredentialsFile = ""
	t.Setenv(EnvS3AccessKey, "EAK")
	t.Setenv(EnvS3SecretKey, "ESK")
	if o, err = c.ChunkStore.S3Options(0); err != nil || o.AccessKey != "EAK" || o.SecretKey != "ESK" {
		t.Errorf("from the environment: %+v, %v", o, err)
	}
	t.Setenv(EnvS3SecretKey, "")
	if _, err := c.ChunkStore.S3Options(0); !errors.Is(err, ErrConfig) {
		t.Errorf("without a secret key: %v, want ErrConfig", err)
	}

	// The default is the local store.
	if cs, err := (ChunkStore{}).Open(0); cs != nil || err != nil {
		t.Errorf("the default chunk store: %v, %v; want nil (local)", cs, err)
	}
	for name, text := range map[string]string{
		"kind":     "version = 1\n[chunk_store]\nkind = \"nfs\"\n",
		"endpoint": "version = 1\n[chunk_store]\nkind = \"s3\"\nbucket = \"cm\"\n",
		"key":      "version = 1\n[chunk_store]\nkind = \"s3\"\naccess_key = \"AK\"\n",
	} {
		if _, err := Load(write(name+".toml", text)); !errors.Is(err, ErrConfig) {
			t.Errorf("%s: %v, want ErrConfig", name, err)
		}
	}
}
