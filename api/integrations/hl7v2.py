"""HL7 v2 IHE PCD-01 (``ORU^R01``) translator: device messages in, readings and ACKs out.

Pure functions, no database and no I/O: :func:`parse_oru` turns an ER7 message into
:class:`ParsedOru` (readings, plus every OBX that was skipped or rejected and why), and
:func:`build_ack` writes the ``ACK^R01^ACK`` answer. Segment/field splitting is done by the
``hl7`` library (python-hl7); this module only knows what the PCD-01 fields mean (SPEC §8,
DOMAIN.md "Interoperability").

Readings carry the value and unit *as sent* (unit spelled the UCUM way); conversion to the
canonical unit and the physical-range check stay in :func:`api.clinical.vitals.normalize`, which
every entry point calls.
"""

from __future__ import annotations

import codecs
import re
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone, tzinfo
from typing import Any

import hl7

from api.clinical.future import DEFAULT_FUTURE_TOLERANCE_SECONDS, future_problem
from api.clinical.vitals import (
    VitalCode,
    accepted_units,
    accepts_unit,
    canonical_unit_spelling,
)

# --------------------------------------------------------------------------------------------
# Code tables
# --------------------------------------------------------------------------------------------

#: IEEE 11073-10101 (MDC) metric codes Vigil tracks. The numeric code is authoritative; the
#: MDC_* names that vendors send next to it are sometimes wrong and are not looked at.
MDC_TO_VITAL: dict[str, VitalCode] = {
    "147842": VitalCode.heart_rate,  # MDC_ECG_HEART_RATE
    "149530": VitalCode.heart_rate,  # MDC_PULS_OXIM_PULS_RATE
    "149546": VitalCode.heart_rate,  # MDC_PULS_RATE_NON_INV
    "150456": VitalCode.spo2,  # MDC_PULS_OXIM_SAT_O2
    "150021": VitalCode.systolic_bp,  # MDC_PRESS_BLD_NONINV_SYS
    "150301": VitalCode.systolic_bp,  # MDC_PRESS_CUFF_SYS
    "150022": VitalCode.diastolic_bp,  # MDC_PRESS_BLD_NONINV_DIA
    "150302": VitalCode.diastolic_bp,  # MDC_PRESS_CUFF_DIA
    "150023": VitalCode.mean_bp,  # MDC_PRESS_BLD_NONINV_MEAN
    "150303": VitalCode.mean_bp,  # MDC_PRESS_CUFF_MEAN
    "151562": VitalCode.respiratory_rate,  # MDC_RESP_RATE
    "151578": VitalCode.respiratory_rate,  # MDC_TTHOR_RESP_RATE
    "150344": VitalCode.temperature,  # MDC_TEMP
    "150364": VitalCode.temperature,  # MDC_TEMP_BODY
    "151708": VitalCode.etco2,  # MDC_AWAY_CO2_ET
}

#: MDC dimension (unit) codes -> UCUM. Partition 4 (MDC_PART_DIM) codes are 262144 + term code:
#: kPa is term 3843 (265987) and degF term 4416 (266560).
MDC_UNITS: dict[str, str] = {
    "264864": "/min",  # MDC_DIM_BEAT_PER_MIN
    "264928": "/min",  # MDC_DIM_RESP_PER_MIN
    "262688": "%",  # MDC_DIM_PERCENT
    "266016": "mm[Hg]",  # MDC_DIM_MMHG
    "265987": "kPa",  # MDC_DIM_KILO_PASCAL
    "268192": "Cel",  # MDC_DIM_DEGC
    "266560": "[degF]",  # MDC_DIM_FAHR
    "263875": "kg",  # MDC_DIM_KILO_G (never a vital sign; listed so it is recognised)
}

# Fallback when OBX-6 carries a unit code Vigil does not know but a recognisable MDC name.
_MDC_UNIT_NAMES: dict[str, str] = {
    "MDC_DIM_BEAT_PER_MIN": "/min",
    "MDC_DIM_RESP_PER_MIN": "/min",
    "MDC_DIM_PERCENT": "%",
    "MDC_DIM_MMHG": "mm[Hg]",
    "MDC_DIM_KILO_PASCAL": "kPa",
    "MDC_DIM_DEGC": "Cel",
    "MDC_DIM_FAHR": "[degF]",
}

#: OBX-11 (HL7 table 0085) statuses whose value is a measurement to record: F final, R entered
#: not verified (what monitors send), C corrected (replaces a final result), P preliminary.
READING_STATUSES = frozenset({"F", "R", "C", "P"})
# The others, and why such a row is not stored: it retracts something, carries no result, or
# is not a result of its own.
_NOT_A_READING: dict[str, str] = {
    "W": "wrong, e.g. sent for the wrong patient",
    "D": "deletes the result",
    "X": "no result could be obtained",
    "I": "pending",
    "N": "not asked",
    "O": "order detail only, no result",
    "S": "partial result",
    "U": "status change only, the result was sent before",
}

# MDC partition 1 (MDC_PART_OBJ: 65536..131071) names devices, not measurements: MDS, VMD and
# channel rows such as 69965 MDC_DEV_MON_PHYSIO_MULTI_PARAM_MDS or 70675 (a VMD).
_MDC_OBJECT_PARTITION = range(65536, 131072)

EUI64 = "EUI-64"

# HL7 table 0357 (message error condition codes) used in ERR-3.
ERR_SEGMENT_SEQUENCE = "100"
ERR_REQUIRED_FIELD_MISSING = "101"
ERR_DATA_TYPE = "102"
ERR_TABLE_VALUE_NOT_FOUND = "103"
ERR_UNSUPPORTED_MESSAGE_TYPE = "200"
ERR_APPLICATION_INTERNAL = "207"

HL70357_TEXT: dict[str, str] = {
    "0": "Message accepted",
    ERR_SEGMENT_SEQUENCE: "Segment sequence error",
    ERR_REQUIRED_FIELD_MISSING: "Required field missing",
    ERR_DATA_TYPE: "Data type error",
    ERR_TABLE_VALUE_NOT_FOUND: "Table value not found",
    ERR_UNSUPPORTED_MESSAGE_TYPE: "Unsupported message type",
    "201": "Unsupported event code",
    "202": "Unsupported processing id",
    "203": "Unsupported version id",
    "204": "Unknown key identifier",
    "205": "Duplicate key identifier",
    "206": "Application record locked",
    ERR_APPLICATION_INTERNAL: "Application internal error",
}

# --------------------------------------------------------------------------------------------
# Results
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class DeviceReading:
    """One numeric vital sign from an OBX row."""

    obx_index: int  # 1-based position of the OBX among all OBX segments of the message
    mdc_code: str
    code: str  # VitalCode value
    value: float  # as sent
    unit: str  # as sent, spelled the UCUM way (mm[Hg], /min, %, Cel, [degF], kPa)
    measured_at: datetime  # aware, UTC
    device_identifier: str | None  # EUI-64, as sent
    raw_obx: str


@dataclass(frozen=True)
class SkippedObx:
    """An OBX row that is not a reading by design (counted, not stored).

    ``reason``: ``device_header`` (MDS/VMD/channel rows, rows without a value), ``non_numeric``
    (ST, CWE, NA waveforms...), ``untracked_code`` (a numeric Vigil does not track) or
    ``no_result`` (a tracked numeric the device marks ``X``: no result could be obtained).
    """

    obx_index: int
    reason: str
    detail: str


@dataclass(frozen=True)
class RejectedObx:
    """A tracked ``NM`` row that cannot become a reading: to be quarantined with its raw text.

    ``reason``: ``missing_value``, ``invalid_value``, ``missing_unit``, ``unit_mismatch``,
    ``missing_time``, ``invalid_time`` (malformed, out of range or in the future),
    ``missing_status`` or ``result_status`` (OBX-11 not F/R/C/P: e.g. W wrong patient, D
    deleted, X no result); ``detail`` says what was wrong in words.
    """

    obx_index: int
    reason: str
    raw_obx: str
    detail: str = ""


@dataclass(frozen=True)
class ParsedOru:
    control_id: str  # MSH-10
    sending_application: str  # MSH-3, ER7 text (e.g. "MINDRAY_VS900^00A0370098006640^EUI-64")
    sending_facility: str  # MSH-4, ER7 text
    message_type: str  # "ORU^R01"
    processing_id: str  # MSH-11 (P, D, T)
    patient_mrn: str | None  # PID-3: CX.1 of the MR repetition, else of the first one
    readings: list[DeviceReading]
    skipped: list[SkippedObx]
    rejected: list[RejectedObx]
    raw: str  # the message after MLLP stripping, segments separated by CR


class Hl7Error(Exception):
    """The message as a whole cannot be processed; answer with ``ack_code`` and ``err_code``.

    ``ack_code`` is ``AR`` (not HL7, no MSH, not ORU^R01, no MSH-10) or ``AE`` (a readable
    ORU^R01 whose content cannot be used). ``err_code`` is from HL7 table 0357. Whatever could
    be read of the MSH is kept so the ACK can still address the sender.
    """

    def __init__(
        self,
        ack_code: str,
        err_code: str,
        text: str,
        *,
        control_id: str | None = None,
        sending_application: str | None = None,
        sending_facility: str | None = None,
        trigger_event: str | None = None,
    ) -> None:
        super().__init__(text)
        self.ack_code = ack_code
        self.err_code = err_code
        self.text = text
        self.control_id = control_id
        self.sending_application = sending_application
        self.sending_facility = sending_facility
        self.trigger_event = trigger_event


# --------------------------------------------------------------------------------------------
# Framing
# --------------------------------------------------------------------------------------------

_MLLP_START = "\x0b"
_MLLP_END = "\x1c"


def strip_mllp(raw: bytes | str) -> str:
    """Remove MLLP framing and return the segments separated by CR.

    Blank lines, a byte-order mark and whitespace around each segment are dropped.

    Bytes are decoded in the character set MSH-18 declares (:func:`declared_charset`); when it
    declares none (or ASCII), as UTF-8, falling back to latin-1 (which never fails).
    """
    if isinstance(raw, bytes):
        charset = declared_charset(raw)
        if charset.msh18 is not None and charset.codec != "ascii":
            text = raw.decode(charset.codec, errors="replace")
        else:
            try:
                text = raw.decode("utf-8")
            except UnicodeDecodeError:
                text = raw.decode("latin-1")
    else:
        text = raw
    text = text.replace(_MLLP_START, "").replace(_MLLP_END, "").replace("\ufeff", "")
    lines = text.replace("\r\n", "\r").replace("\n", "\r").split("\r")
    return "\r".join(stripped for line in lines if (stripped := line.strip()))


# --------------------------------------------------------------------------------------------
# Character sets (MSH-18, HL7 table 0211)
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Charset:
    """The character set a sender declared in MSH-18, as Vigil answers in it."""

    msh18: str | None  # as declared (the ACK's MSH-18); None: nothing declared, ASCII
    codec: str  # Python codec
    mime: str  # IANA name, for a Content-Type's charset parameter


ASCII = Charset(None, "ascii", "us-ascii")

#: MSH-18 values Vigil answers in; any other (or none) is answered in ASCII with HL7 escapes.
#: (UTF-16 and UTF-32 are not among them: MLLP's framing bytes cannot delimit them.)
HL7_CHARSETS: dict[str, tuple[str, str]] = {
    "ASCII": ("ascii", "us-ascii"),
    **{f"8859/{n}": (f"iso8859-{n}", f"iso-8859-{n}") for n in (1, 2, 3, 4, 5, 6, 7, 8, 9, 15)},
    "UNICODE UTF-8": ("utf-8", "utf-8"),
    "GB 18030-2000": ("gb18030", "gb18030"),
    "BIG-5": ("big5", "big5"),
    "KS X 1001": ("euc_kr", "euc-kr"),
}


def declared_charset(raw: bytes | str) -> Charset:
    """MSH-18 (its first repetition) read from the raw message without the parser; never
    raises. Absent or not one Vigil knows: :data:`ASCII`."""
    try:
        text = raw.decode("latin-1") if isinstance(raw, bytes) else raw
        start = text.find("MSH")
        if start < 0 or len(text) < start + 8:
            return ASCII
        segment = re.split(r"[\r\n]", text[start:], maxsplit=1)[0]
        fields = segment.split(segment[3])
        if len(fields) < 18:
            return ASCII
        repetition = fields[1][1:2] or "~"
        declared = " ".join(fields[17].split(repetition)[0].split()).upper()
        known = HL7_CHARSETS.get(declared)
        return Charset(declared, *known) if known else ASCII
    except Exception:  # a last resort: whatever the bytes are, answer in ASCII
        return ASCII


def _hl7_hex_escape(error: UnicodeError) -> tuple[str, int]:
    """A character the answer's character set cannot hold, as the HL7 hexadecimal escape of
    its Unicode code point (``\\X00FC\\``, as HAPI and InterSystems read it)."""
    if not isinstance(error, UnicodeEncodeError):
        raise error
    chars = error.object[error.start : error.end]
    return "".join(f"\\X{ord(c):04X}\\" for c in chars), error.end


codecs.register_error("vigil-hl7-escape", _hl7_hex_escape)


def encode_message(message: str, charset: Charset) -> bytes:
    """``message`` (an ACK) in ``charset``; what it cannot hold, as HL7 escapes."""
    return message.encode(charset.codec, errors="vigil-hl7-escape")


def peek_header(raw: bytes | str) -> tuple[str | None, str | None, str | None]:
    """MSH-10, MSH-3 and MSH-4 (ER7 text) read without the parser, for answering a message
    whose processing failed unexpectedly; never raises. (None, None, None) when unreadable."""
    try:
        text = strip_mllp(raw)
        if not text.startswith("MSH") or len(text) < 8:
            return None, None, None
        fields = text.split("\r", 1)[0].split(text[3])
        component = fields[1][:1] if len(fields) > 1 else "^"

        def field(n: int) -> str | None:  # MSH-1 is the separator itself: MSH-n is fields[n-1]
            return (fields[n - 1].strip() or None) if len(fields) >= n else None

        control = (field(10) or "").split(component, 1)[0].strip() or None
        return control, field(3), field(4)
    except Exception:  # a last resort: whatever went wrong, answer without the header
        return None, None, None


# --------------------------------------------------------------------------------------------
# Field access on python-hl7 segments
# --------------------------------------------------------------------------------------------


def _value(segment: Any, field: int, rep: int = 1, comp: int = 1, sub: int = 1) -> str:
    """The unescaped text at ``field``/``rep``/``comp``/``sub`` (1-based), or "" when absent."""
    try:
        return str(segment.extract_field(1, field, rep, comp, sub)).strip()
    except (IndexError, TypeError):
        return ""


def _repetitions(segment: Any, field: int) -> int:
    return len(segment[field]) if field < len(segment) else 0


def _field_text(segment: Any, field: int) -> str:
    """The ER7 text of a whole field (components still joined by ``^``)."""
    return str(segment[field]).strip() if field < len(segment) else ""


def _segment_id(segment: Any) -> str:
    return str(segment[0]).strip().upper()


# --------------------------------------------------------------------------------------------
# Time
# --------------------------------------------------------------------------------------------

_DTM_RE = re.compile(
    r"^(?P<digits>\d{4}(?:\d{2}){0,5})(?:\.(?P<frac>\d{1,6}))?(?P<offset>[+-]\d{4})?$"
)
_MIN_READING_DIGITS = 12  # YYYYMMDDHHMM: a reading needs at least minute precision


def parse_dtm(value: str, *, clinic_tz: tzinfo) -> datetime:
    """Parse an HL7 DTM (``YYYY[MM[DD[HH[MM[SS[.S...]]]]]][+/-ZZZZ]``) to an aware UTC datetime.

    A value without an offset is local time in ``clinic_tz``. Raises ValueError when malformed
    or outside what a datetime can hold once in UTC (never OverflowError).
    """
    match = _DTM_RE.match(value.strip())
    if match is None:
        raise ValueError(f"not an HL7 DTM: {value!r}")
    digits, frac, offset = match["digits"], match["frac"], match["offset"]
    if frac is not None and len(digits) != 14:
        raise ValueError(f"fractional seconds without seconds: {value!r}")
    parts = [int(digits[i : i + 2]) for i in range(4, len(digits), 2)]
    month, day, hour, minute, second = (parts + [1, 1, 0, 0, 0][len(parts) :])[:5]
    microsecond = int((frac or "0").ljust(6, "0"))
    local = datetime(int(digits[:4]), month, day, hour, minute, second, microsecond)
    if offset is None:
        tz = clinic_tz
    else:
        sign = -1 if offset[0] == "-" else 1
        hours, minutes = int(offset[1:3]), int(offset[3:5])
        if hours > 14 or minutes > 59:
            raise ValueError(f"offset out of range: {value!r}")
        tz = timezone(sign * timedelta(hours=hours, minutes=minutes))
    try:
        return local.replace(tzinfo=tz).astimezone(UTC)
    except OverflowError:  # e.g. 99991231235959-1400 is past year 9999 in UTC
        raise ValueError(f"out of range once converted to UTC: {value!r}") from None


def _dtm_digits(value: str) -> int:
    match = _DTM_RE.match(value.strip())
    return len(match["digits"]) if match else 0


# --------------------------------------------------------------------------------------------
# Devices
# --------------------------------------------------------------------------------------------


def _ei_eui64(segment: Any, field: int) -> str | None:
    """The first EI repetition of ``field`` whose type (EI.4) is EUI-64: its universal id (EI.3),
    else its entity identifier (EI.1)."""
    for rep in range(1, _repetitions(segment, field) + 1):
        if _value(segment, field, rep, 4).upper() == EUI64:
            identifier = _value(segment, field, rep, 3) or _value(segment, field, rep, 1)
            if identifier:
                return identifier
    return None


def _pid_mrn(pid: Any) -> str | None:
    """PID-3: the ID (CX.1) of the repetition whose identifier type (CX.5) is MR (medical record
    number), else of the first repetition. Other repetitions (SSN, insurance number...) are
    never matched against MRNs when an MR one is there."""
    for rep in range(1, _repetitions(pid, 3) + 1):
        if _value(pid, 3, rep, 5).upper() == "MR":
            return _value(pid, 3, rep, 1) or None
    return _value(pid, 3, 1, 1) or None


def _msh_eui64(msh: Any) -> str | None:
    """MSH-3 (HD) when its universal id type (HD.3) is EUI-64: the universal id (HD.2)."""
    if _value(msh, 3, 1, 3).upper() == EUI64:
        return _value(msh, 3, 1, 2) or None
    return None


# --------------------------------------------------------------------------------------------
# Message parsing
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Header:
    control_id: str
    sending_application: str
    sending_facility: str
    message_type: str
    processing_id: str


@dataclass(frozen=True)
class _ObrContext:
    observed_at: str  # OBR-7 text
    device: str | None  # OBR-3 EUI-64


def _parse_er7(text: str) -> Any:
    if not text.startswith("MSH") or len(text) < 8 or text[3].isalnum() or text[3].isspace():
        raise Hl7Error("AR", ERR_SEGMENT_SEQUENCE, "not an HL7 v2 message: no MSH segment first")
    if text.count("\rMSH" + text[3]) > 0:
        raise Hl7Error("AR", ERR_SEGMENT_SEQUENCE, "one message per request: found several MSH")
    try:
        return hl7.parse(text)
    except Exception as exc:  # python-hl7 raises assorted errors on malformed input
        raise Hl7Error("AR", ERR_SEGMENT_SEQUENCE, f"unreadable HL7 message: {exc}") from None


def _read_header(msh: Any) -> _Header:
    sending_application = _field_text(msh, 3)
    sending_facility = _field_text(msh, 4)
    control_id = _value(msh, 10)
    code, trigger = _value(msh, 9, 1, 1).upper(), _value(msh, 9, 1, 2).upper()
    context: dict[str, Any] = {
        "control_id": control_id or None,
        "sending_application": sending_application or None,
        "sending_facility": sending_facility or None,
        "trigger_event": trigger or None,
    }
    if (code, trigger) != ("ORU", "R01"):
        shown = f"{code}^{trigger}" if trigger else code or "(empty)"
        raise Hl7Error(
            "AR",
            ERR_UNSUPPORTED_MESSAGE_TYPE,
            f"unsupported message type {shown}: only ORU^R01 is accepted",
            **context,
        )
    if not control_id:
        raise Hl7Error(
            "AR", ERR_REQUIRED_FIELD_MISSING, "MSH-10 message control id is missing", **context
        )
    return _Header(
        control_id=control_id,
        sending_application=sending_application,
        sending_facility=sending_facility,
        message_type=f"{code}^{trigger}",
        processing_id=_value(msh, 11),
    )


def parse_oru(
    message: str,
    *,
    clinic_tz: tzinfo,
    future_tolerance_seconds: int = DEFAULT_FUTURE_TOLERANCE_SECONDS,
) -> ParsedOru:
    """Read an IHE PCD-01 ``ORU^R01``; raises :class:`Hl7Error` when it cannot be processed.

    ``future_tolerance_seconds``: how far past the clock a time may be (SPEC §1; the
    configured ``future_tolerance_seconds``).

    Every OBX ends up in exactly one of ``readings``, ``skipped`` or ``rejected``.
    """
    text = strip_mllp(message)
    parsed = _parse_er7(text)
    msh = parsed[0]
    header = _read_header(msh)
    msh_device = _msh_eui64(msh)

    readings: list[DeviceReading] = []
    skipped: list[SkippedObx] = []
    rejected: list[RejectedObx] = []
    patient_mrn: str | None = None
    seen_pid = False
    obr: _ObrContext | None = None
    obx_index = 0

    for segment in parsed[1:]:
        segment_id = _segment_id(segment)
        if segment_id == "PID" and not seen_pid:
            seen_pid = True
            patient_mrn = _pid_mrn(segment)
        elif segment_id == "OBR":
            obr = _ObrContext(observed_at=_value(segment, 7), device=_ei_eui64(segment, 3))
        elif segment_id == "OBX":
            obx_index += 1
            # SPEC §8: this row's own OBX-18, else its OBR's OBR-3, else MSH-3. Nothing is
            # carried over from other OBX rows: a row without its own device id must never be
            # attributed to a device named on another row (another patient's monitor).
            device = _ei_eui64(segment, 18) or (obr.device if obr else None) or msh_device
            outcome = _read_obx(
                segment,
                obx_index=obx_index,
                obr_time=obr.observed_at if obr else "",
                device=device,
                clinic_tz=clinic_tz,
                future_tolerance_seconds=future_tolerance_seconds,
            )
            if isinstance(outcome, DeviceReading):
                readings.append(outcome)
            elif isinstance(outcome, SkippedObx):
                skipped.append(outcome)
            else:
                rejected.append(outcome)

    if obx_index == 0:
        raise Hl7Error(
            "AE",
            ERR_SEGMENT_SEQUENCE,
            "ORU^R01 without any OBX segment: no observations to record",
            control_id=header.control_id,
            sending_application=header.sending_application or None,
            sending_facility=header.sending_facility or None,
            trigger_event="R01",
        )
    return ParsedOru(
        control_id=header.control_id,
        sending_application=header.sending_application,
        sending_facility=header.sending_facility,
        message_type=header.message_type,
        processing_id=header.processing_id,
        patient_mrn=patient_mrn,
        readings=readings,
        skipped=skipped,
        rejected=rejected,
        raw=text,
    )


def _mdc_partition_is_object(code: str) -> bool:
    return code.isdigit() and int(code) in _MDC_OBJECT_PARTITION


# HL7 NM: optional sign, digits, optional decimal point (no exponent, no NaN/Infinity).
_NM_RE = re.compile(r"^[+-]?(?:\d+(?:\.\d*)?|\.\d+)$")


def _obx_value_text(segment: Any) -> str:
    """OBX-5 as a whole (so ``120^x`` or ``120~130`` are not silently cut to ``120``)."""
    return _field_text(segment, 5)


def _read_obx(
    segment: Any,
    *,
    obx_index: int,
    obr_time: str,
    device: str | None,
    clinic_tz: tzinfo,
    future_tolerance_seconds: int,
) -> DeviceReading | SkippedObx | RejectedObx:
    value_type = _value(segment, 2).upper()
    mdc_code = _value(segment, 3, 1, 1)
    name = _value(segment, 3, 1, 2)
    status = _value(segment, 11).upper()
    value_text = _obx_value_text(segment)
    label = f"{mdc_code}^{name}" if name else mdc_code or "(no code)"
    raw = str(segment)
    vital = MDC_TO_VITAL.get(mdc_code)

    if _mdc_partition_is_object(mdc_code):
        return SkippedObx(obx_index, "device_header", f"{label}: device/VMD/channel row")
    if not value_text:
        if value_type == "NM" and vital is not None:
            if status == "X":
                return SkippedObx(obx_index, "no_result", f"{label}: device reports no result")
            if status in READING_STATUSES:
                return RejectedObx(obx_index, "missing_value", raw, f"{label}: OBX-5 is empty")
        else:
            return SkippedObx(obx_index, "device_header", f"{label}: row without a value")
    elif value_type != "NM":
        return SkippedObx(obx_index, "non_numeric", f"{label}: value type {value_type or '?'}")
    elif vital is None:
        return SkippedObx(obx_index, "untracked_code", f"{label}: not a tracked vital sign")
    if status not in READING_STATUSES:
        if not status:
            return RejectedObx(obx_index, "missing_status", raw, f"{label}: OBX-11 is empty")
        meaning = _NOT_A_READING.get(status, "not an HL7 table 0085 result status")
        return RejectedObx(
            obx_index,
            "result_status",
            raw,
            f"{label}: OBX-11 {status!r} ({meaning}) is not a reading; "
            f"accepted: {', '.join(sorted(READING_STATUSES))}",
        )
    return _numeric_reading(
        segment,
        obx_index=obx_index,
        mdc_code=mdc_code,
        vital=vital,
        value_text=value_text,
        obr_time=obr_time,
        device=device,
        clinic_tz=clinic_tz,
        future_tolerance_seconds=future_tolerance_seconds,
    )


def _numeric_reading(
    segment: Any,
    *,
    obx_index: int,
    mdc_code: str,
    vital: VitalCode,
    value_text: str,
    obr_time: str,
    device: str | None,
    clinic_tz: tzinfo,
    future_tolerance_seconds: int,
) -> DeviceReading | RejectedObx:
    raw = str(segment)
    if not _NM_RE.match(value_text):
        return RejectedObx(obx_index, "invalid_value", raw, f"OBX-5 {value_text!r} is not a number")
    value = float(value_text)

    unit_or_problem = _resolve_unit(segment, vital)
    if isinstance(unit_or_problem, tuple):
        reason, detail = unit_or_problem
        return RejectedObx(obx_index, reason, raw, detail)

    time_text = _value(segment, 14) or obr_time
    if not time_text:
        return RejectedObx(obx_index, "missing_time", raw, "neither OBX-14 nor OBR-7 has a time")
    source = "OBX-14" if _value(segment, 14) else "OBR-7"
    if _dtm_digits(time_text) < _MIN_READING_DIGITS:
        return RejectedObx(
            obx_index, "invalid_time", raw, f"{source} {time_text!r} is not a minute-precise time"
        )
    try:
        measured_at = parse_dtm(time_text, clinic_tz=clinic_tz)
    except ValueError as exc:
        return RejectedObx(obx_index, "invalid_time", raw, f"{source}: {exc}")
    future = future_problem(measured_at, tolerance_seconds=future_tolerance_seconds)
    if future is not None:
        return RejectedObx(obx_index, "invalid_time", raw, f"{source} {time_text!r}: {future}")

    return DeviceReading(
        obx_index=obx_index,
        mdc_code=mdc_code,
        code=vital.value,
        value=value,
        unit=unit_or_problem,
        measured_at=measured_at,
        device_identifier=device,
        raw_obx=raw,
    )


def _resolve_unit(segment: Any, vital: VitalCode) -> str | tuple[str, str]:
    """The UCUM spelling of OBX-6 if it is accepted for ``vital``; else (reason, detail)."""
    identifier = _value(segment, 6, 1, 1)
    text = _value(segment, 6, 1, 2)
    sent = identifier or text
    if not sent:
        return ("missing_unit", "OBX-6 is empty")
    if identifier.isdigit():
        # The numeric code is authoritative; an unknown code falls back to the name/spelling.
        unit = MDC_UNITS.get(identifier) or _MDC_UNIT_NAMES.get(text.upper())
        if unit is None and text and not text.upper().startswith("MDC_"):
            unit = canonical_unit_spelling(text)
        if unit is None:
            return ("unit_mismatch", f"OBX-6 unit code {identifier} is not a known MDC unit")
    else:
        unit = _MDC_UNIT_NAMES.get(sent.upper()) or canonical_unit_spelling(sent)
    if not accepts_unit(vital, unit):
        accepted = accepted_units(vital)
        return ("unit_mismatch", f"OBX-6 unit {sent!r} does not fit {vital.value}; use {accepted}")
    return unit


# --------------------------------------------------------------------------------------------
# ACK
# --------------------------------------------------------------------------------------------


def _escape_text(value: str) -> str:
    """Escape free text for an ER7 field (default delimiters ``|^~\\&``); no line breaks."""
    escaped = (
        value.replace("\\", "\\E\\")
        .replace("|", "\\F\\")
        .replace("^", "\\S\\")
        .replace("~", "\\R\\")
        .replace("&", "\\T\\")
    )
    return " ".join(escaped.split())


def _escape_composite(value: str) -> str:
    """Keep component separators of an already-encoded composite (MSH-3/4), but never let it
    break out of its field or segment."""
    return " ".join(value.replace("|", "\\F\\").replace("~", "\\R\\").split())


def _hl7_timestamp(moment: datetime) -> str:
    if moment.tzinfo is None:
        raise ValueError("ACK timestamp must be timezone-aware")
    return moment.astimezone(UTC).strftime("%Y%m%d%H%M%S+0000")


def build_ack(
    *,
    original_control_id: str | None,
    sending_application: str | None,
    sending_facility: str | None,
    ack_code: str,
    text: str | None = None,
    err_code: str | None = None,
    receiving_application: str = "VIGIL",
    now: datetime | None = None,
    control_id: str | None = None,
    trigger_event: str = "R01",
    charset: str | None = None,
) -> str:
    """An ER7 ``ACK^<trigger>^ACK`` (v2.6), segments separated by CR (with a final CR).

    ``sending_application``/``sending_facility`` are those of the *original* message (its
    MSH-3/MSH-4, as ER7 text); they become MSH-5/MSH-6 here, and ``receiving_application``
    (Vigil) becomes MSH-3. AE/AR answers carry an ERR segment: ERR-3 ``code^text^HL70357``
    (default 207), ERR-4 severity ``E``, ERR-8 the user message. ``charset``: the MSH-18 the
    ACK declares (the sender's; encode the ACK in it with :func:`encode_message`).
    """
    if ack_code not in {"AA", "AE", "AR", "CA", "CE", "CR"}:
        raise ValueError(f"unknown acknowledgment code {ack_code!r}")
    moment = now or datetime.now(UTC)
    msh = "|".join(
        [
            "MSH",
            "^~\\&",
            _escape_composite(receiving_application),
            "",
            _escape_composite(sending_application or ""),
            _escape_composite(sending_facility or ""),
            _hl7_timestamp(moment),
            "",
            f"ACK^{_escape_text(trigger_event)}^ACK",
            _escape_text(control_id or uuid.uuid4().hex[:20].upper()),
            "P",
            "2.6",
            *(["", "", "", "", "", _escape_text(charset)] if charset else []),
        ]
    )
    msa = "|".join(
        ["MSA", ack_code, _escape_text(original_control_id or ""), _escape_text(text or "")]
    )
    segments = [msh, msa.rstrip("|")]
    if ack_code in {"AE", "AR", "CE", "CR"}:
        code = err_code or ERR_APPLICATION_INTERNAL
        code_text = HL70357_TEXT.get(code, "Error")
        segments.append(
            "|".join(
                [
                    "ERR",
                    "",
                    "",
                    f"{_escape_text(code)}^{_escape_text(code_text)}^HL70357",
                    "E",
                    "",
                    "",
                    "",
                    _escape_text(text or code_text),
                ]
            )
        )
    return "\r".join(segments) + "\r"
