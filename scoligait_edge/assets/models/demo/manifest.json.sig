{
  "format": "scoligait-bundle-signature",
  "version": 1,
  "algorithm": "ed25519",
  "key_id": "d2492b8ff2ddebc3dce8cabc9e48732cf49137a63b248bc8acd5710d3a472b5b",
  "signed_file": "manifest.json",
  "manifest_sha256": "5007360085e2d5c97535050761c9409a96365d1d092923094184b67baf8664f1",
  "signature": "3JhbLtnw7P2Pxp2I53mV1n9oPNWYiaoJiCIPt+7XSRiEs2uMTXv+htZkHiN0cVe7OldMRpSN1K6+TF7QDyoBBA=="
}
