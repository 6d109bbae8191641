"""Fixed vocabularies of the data set: status codes (X12 507/508) and names."""

from __future__ import annotations

from engine.payersim.models import StatusCode

F1_PAID = StatusCode(
    "Finalized", "F1", "Finalized/Payment-The claim/line has been paid.",
    "65", "Claim/line has been paid.", True,
)
F0_FINAL = StatusCode(
    "Finalized", "F0",
    "Finalized-The claim/encounter has completed the adjudication cycle and no more action will be taken.",
    "3", "Claim has been adjudicated and is awaiting payment cycle.", False,
)
F3_REVISED = StatusCode(
    "Finalized", "F3", "Finalized/Revised-Adjudication information has been changed.",
    "101", "Claim was processed as adjustment to previous claim.", True,
)
F4_NO_PAYMENT = StatusCode(
    "Finalized", "F4", "Finalized/Adjudication Complete-No payment forthcoming.",
    "104", "Processed according to plan provisions.", False,
)
F2_DENIED = StatusCode(
    "Denied", "F2", "Finalized/Denial-The claim/line has been denied.",
    "88", "Entity not eligible for benefits for submitted dates of service.", False,
)
P1_IN_PROCESS = StatusCode(
    "In Process", "P1", "Pending/In Process-The claim or encounter is in the adjudication system.",
    "20", "Accepted for processing.", False,
)
P2_REVIEW = StatusCode(
    "Pending", "P2", "Pending/Payer Review-The claim/encounter is suspended pending review.",
    "41", "Special handling required at payer site.", False,
)
P3_INFO = StatusCode(
    "Pending", "P3",
    "Pending/Provider Requested Information-The claim or encounter is waiting for information that has already been requested from the provider.",
    "21", "Missing or invalid information.", False,
)
R4_ATTACHMENT = StatusCode(
    "Pending", "R4", "Requests for additional Information/Claim/Line.",
    "252", "Attachment/other documentation.", False,
)
P0_MULTIPLE = StatusCode(
    "Multiple Status", "P0",
    "Pending: Adjudication/Details-This is a generic message about a pended claim.",
    "20", "Accepted for processing.", False,
)
A1_RECEIVED = StatusCode(
    "Acknowledged", "A1",
    "Acknowledgement/Receipt-The claim/encounter has been received. This does not mean that the claim has been accepted for adjudication.",
    "19", "Entity acknowledges receipt of claim/encounter.", False,
)
A3_RETURNED = StatusCode(
    "Rejected", "A3",
    "Acknowledgement/Returned as unprocessable claim-The claim/encounter has been rejected and has not been entered into the adjudication system.",
    "21", "Missing or invalid information.", False,
)
A7_INVALID = StatusCode(
    "Rejected", "A7",
    "Acknowledgement/Rejected for Invalid Information-The claim/encounter has invalid information as specified in the Status details and has been rejected.",
    "145", "Entity's primary identifier.", False,
)
A3_MISDIRECTED = StatusCode(
    "Misdirected", "A3",
    "Acknowledgement/Returned as unprocessable claim-The claim/encounter has been rejected and has not been entered into the adjudication system.",
    "116", "Claim submitted to incorrect payer.", False,
)
A4_NOT_FOUND = StatusCode(
    "Acknowledged", "A4",
    "Acknowledgement/Not Found-The claim/encounter can not be found in the adjudication system.",
    "35", "Claim/encounter not found.", False,
)
E0_ERROR = StatusCode(
    "Rejected", "E0", "Response not possible - error on submitted request data.",
    "21", "Missing or invalid information.", False,
)

# (weight, status) of an original adjudication; covers every class of payer-api.md section 4.
STATUS_MIX: tuple[tuple[int, StatusCode], ...] = (
    (44, F1_PAID), (3, F0_FINAL), (7, F4_NO_PAYMENT), (11, F2_DENIED),
    (8, P1_IN_PROCESS), (4, P2_REVIEW), (3, P3_INFO), (2, R4_ATTACHMENT), (1, P0_MULTIPLE),
    (4, A1_RECEIVED), (4, A3_RETURNED), (2, A7_INVALID), (1, A3_MISDIRECTED),
    (1, A4_NOT_FOUND), (1, E0_ERROR),
)
# Status of a later adjudication (adjustment) of a claim.
ADJUSTMENT_MIX: tuple[tuple[int, StatusCode], ...] = (
    (6, F3_REVISED), (3, F1_PAID), (2, F2_DENIED), (1, F4_NO_PAYMENT),
)
# Statuses a recent claim (service within two weeks) usually still has.
RECENT_MIX: tuple[tuple[int, StatusCode], ...] = ((6, P1_IN_PROCESS), (3, A1_RECEIVED), (1, P2_REVIEW))

# (type, code, description) of the adjustment / denial reasons sent with decided claims
# (payer-api.md: claimCodes, claimAdjudicationCodes).
DENIAL_CODES: tuple[tuple[str, str, str], ...] = (
    ("CARC", "50", "These are non-covered services because this is not deemed a medical necessity by the payer."),
    ("CARC", "27", "Expenses incurred after coverage terminated."),
    ("CARC", "29", "The time limit for filing has expired."),
    ("CARC", "16", "Claim/service lacks information or has submission/billing error(s)."),
    ("CARC", "197", "Precertification/authorization/notification/pre-treatment absent."),
)
NO_PAYMENT_CODES: tuple[tuple[str, str, str], ...] = (
    ("CARC", "45", "Charge exceeds fee schedule/maximum allowable or contracted/legislated fee arrangement."),
    ("CARC", "96", "Non-covered charge(s)."),
)
REMARK_CODES: tuple[tuple[str, str, str], ...] = (
    ("REMARK", "N115", "This decision was based on a Local Coverage Determination (LCD)."),
    ("REMARK", "M127", "Missing patient medical record for this service."),
    ("REMARK", "N130", "Consult plan benefit documents/guidelines for information about restrictions for this service."),
)
# How a pending claim is decided later (the sandbox's claims move with its clock).
DECISION_MIX: tuple[tuple[int, StatusCode], ...] = ((60, F1_PAID), (25, F2_DENIED), (15, F4_NO_PAYMENT))
# A step some pending claims take before their decision.
INTERIM_MIX: tuple[tuple[int, StatusCode], ...] = ((2, P2_REVIEW), (1, P3_INFO), (1, R4_ATTACHMENT))

FIRST_NAMES = (
    "SKYLER", "JORDAN", "AVERY", "TAYLOR", "MORGAN", "RILEY", "CASEY", "JAMIE", "QUINN", "ROWAN",
    "MARIA", "JOSE", "LINDA", "JAMES", "MARY", "ROBERT", "PATRICIA", "MICHAEL", "JENNIFER", "DAVID",
    "ELIZABETH", "WILLIAM", "SUSAN", "RICHARD", "KAREN", "THOMAS", "NANCY", "CHARLES", "LISA", "DANIEL",
    "ANA", "LUIS", "MEI", "WEI", "AISHA", "OMAR", "PRIYA", "RAJ", "SOFIA", "MATEO",
)
LAST_NAMES = (
    "SMITH", "JOHNSON", "WILLIAMS", "BROWN", "JONES", "GARCIA", "MILLER", "DAVIS", "RODRIGUEZ",
    "MARTINEZ", "HERNANDEZ", "LOPEZ", "GONZALEZ", "WILSON", "ANDERSON", "THOMAS", "TAYLOR", "MOORE",
    "JACKSON", "MARTIN", "LEE", "PEREZ", "THOMPSON", "WHITE", "HARRIS", "SANCHEZ", "CLARK", "RAMIREZ",
    "LEWIS", "ROBINSON", "NGUYEN", "PATEL", "KIM", "CHEN", "O'BRIEN", "DE LA CRUZ", "SMITH-JONES",
)
