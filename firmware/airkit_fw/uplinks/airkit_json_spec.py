"""airkit JSON (to an airkit collector): what this uplink is (code: airkit_json.py; see the registry)."""
CLASS = "AirkitJson"
KEYS = {"url": ("str", None), "token": ("str", None)}
REQUIRED = ("url",)
CHOICES = {}
PROBE_OK = (400, 422)   # an empty batch: the collector checks the device and its token first
REMEDY = {401: "the collector does not know this station with this token: register it ('airkit collect add-device "
               "ID --token-file FILE') and set the same token with 'airkit config set FILE uplinks[{index}].token=...', "
               "then run the doctor again",
          403: "the collector does not know this station with this token: register it ('airkit collect add-device "
               "ID --token-file FILE') and set the same token with 'airkit config set FILE uplinks[{index}].token=...', "
               "then run the doctor again",
          404: "uplink {index}'s URL is not the collector's batch API (/api/v1/batch): fix its url",
          None: "the token of uplink {index} is wrong: set it with 'airkit config set FILE uplinks[{index}].token=...'"}
