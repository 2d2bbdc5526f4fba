{
  "format": "scoligait-bundle-signature",
  "version": 1,
  "algorithm": "ed25519",
  "key_id": "d2492b8ff2ddebc3dce8cabc9e48732cf49137a63b248bc8acd5710d3a472b5b",
  "signed_file": "manifest.json",
  "manifest_sha256": "baffefefd5e90854ec8ca6046b61d5ffe1d52f48f0251e28bbd1ea603a2cee74",
  "signature": "lPE8D0rYJJkdDvZ4CEeGPQQDhZHPcFlJkFGJh1iiTWmCLAztz4q90awZS4hsgQhMRgY5mUwPuy9KAVo42tnRBQ=="
}
