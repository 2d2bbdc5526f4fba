{
  "format": "scoligait-bundle-signature",
  "version": 1,
  "algorithm": "ed25519",
  "key_id": "d2492b8ff2ddebc3dce8cabc9e48732cf49137a63b248bc8acd5710d3a472b5b",
  "signed_file": "manifest.json",
  "manifest_sha256": "31b009ae306d5e31c43f26a8e373b5e944cbb29f8721f406864c2f590d8c2572",
  "signature": "amJaanc/5juidJc1ruHTbFGuoPG1LI+Gnz27VW1YvraGsH22qdCW7rRvpV/u9OodIneHbJFEmD1t21PVCRl+DA=="
}
