"""IHE PCD-01 ORU^R01 translator: messages shaped like real vendor output (DOMAIN.md)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone, tzinfo
from zoneinfo import ZoneInfo

import hl7
import pytest
from hypothesis import given
from hypothesis import strategies as st

from api.clinical.vitals import VITALS, VitalCode, normalize
from api.integrations.hl7v2 import (
    ASCII,
    MDC_TO_VITAL,
    MDC_UNITS,
    DeviceReading,
    Hl7Error,
    ParsedOru,
    build_ack,
    declared_charset,
    encode_message,
    parse_dtm,
    parse_oru,
    strip_mllp,
)

NEW_YORK = ZoneInfo("America/New_York")
IHE_PCD = "IHE_PCD_001^IHE PCD^1.3.6.1.4.1.19376.1.6.1.1.1^ISO"


def er7(*segments: str, sep: str = "\r") -> str:
    return sep.join(segments)


def by_index(parsed: ParsedOru) -> dict[int, DeviceReading]:
    return {r.obx_index: r for r in parsed.readings}


# A bedside monitor, EUI-64 only in MSH-3, times without offset, plain units, NIBP minutes
# older than the SpO2, perfusion index, an ST rhythm row and an NA waveform row.
MINDRAY = er7(
    "MSH|^~\\&|MINDRAY_VS900^00A0370098006640^EUI-64|CLINIC||"
    "|20200212125541||ORU^R01^ORU_R01|MSG-0002|P|2.6|||AL|NE||UNICODE UTF-8|||" + IHE_PCD,
    "PID|||A-10023^^^VIGIL^MR||Ruiz^Ana",
    "PV1||O|CHAIR-3",
    "OBR|1|||182777000^monitoring of patient^SNOMED-CT|||20200212125541",
    "OBX|1||69965^MDC_DEV_MON_PHYSIO_MULTI_PARAM_MDS^MDC|1.0.0.0|||||||X",
    "OBX|2||70675^MDC_DEV_PULS_OXIM_VMD^MDC|1.1.0.0|||||||X",
    "OBX|3|NM|150456^MDC_PULS_OXIM_SAT_O2^MDC|1.1.1.1|97|%|||||F|||20200212125541",
    "OBX|4|NM|149530^MDC_PULS_OXIM_PULS_RATE^MDC|1.1.1.2|72|264864^MDC_DIM_BEAT_PER_MIN^MDC|||||F",
    "OBX|5|NM|150488^MDC_PULS_OXIM_PERF_REL^MDC|1.1.1.3|2.4|262688^MDC_DIM_PERCENT^MDC|||||F",
    "OBX|6|NM|150301^MDC_PRESS_CUFF_SYS^MDC|1.2.1.1|128|mmHg|||||F|||20200212124812",
    "OBX|7|NM|150302^MDC_PRESS_CUFF_DIA^MDC|1.2.1.2|82|266016^MDC_DIM_MMHG^MDC|||||F|||20200212124812",
    "OBX|8|NM|150303^MDC_PRESS_CUFF_MEAN^MDC|1.2.1.3|97|266016^MDC_DIM_MMHG^MDC|||||F|||20200212124812",
    "OBX|9|ST|147232^MDC_ECG_RHY^MDC|1.3.1.1|Sinus Rhythm||||||F",
    "OBX|10|NA|131330^MDC_ECG_ELEC_POTL_II^MDC|1.3.1.2|12^15^13^11^10|266418^MDC_DIM_MILLI_VOLT^MDC"
    "|||||F",
)


class TestVendorMessage:
    @pytest.fixture
    def parsed(self) -> ParsedOru:
        return parse_oru(MINDRAY, clinic_tz=NEW_YORK)

    def test_header_fields(self, parsed: ParsedOru) -> None:
        assert parsed.control_id == "MSG-0002"
        assert parsed.sending_application == "MINDRAY_VS900^00A0370098006640^EUI-64"
        assert parsed.sending_facility == "CLINIC"
        assert parsed.message_type == "ORU^R01"
        assert parsed.processing_id == "P"
        assert parsed.patient_mrn == "A-10023"
        assert parsed.raw == MINDRAY

    def test_every_obx_is_accounted_for(self, parsed: ParsedOru) -> None:
        indexes = sorted(
            [r.obx_index for r in parsed.readings]
            + [s.obx_index for s in parsed.skipped]
            + [r.obx_index for r in parsed.rejected]
        )
        assert indexes == list(range(1, 11))
        assert parsed.rejected == []

    def test_readings(self, parsed: ParsedOru) -> None:
        readings = by_index(parsed)
        assert sorted(readings) == [3, 4, 6, 7, 8]
        spo2, pulse = readings[3], readings[4]
        assert (spo2.mdc_code, spo2.code, spo2.value, spo2.unit) == ("150456", "spo2", 97.0, "%")
        assert (pulse.code, pulse.value, pulse.unit) == ("heart_rate", 72.0, "/min")
        # No offset: local clinic time (EST, UTC-5), returned in UTC.
        assert spo2.measured_at == datetime(2020, 2, 12, 17, 55, 41, tzinfo=UTC)
        assert spo2.measured_at.tzinfo is UTC
        # OBX-14 empty: OBR-7 applies.
        assert pulse.measured_at == datetime(2020, 2, 12, 17, 55, 41, tzinfo=UTC)
        for reading in readings.values():
            assert reading.device_identifier == "00A0370098006640"

    def test_nibp_cuff_codes_keep_their_own_older_time(self, parsed: ParsedOru) -> None:
        readings = by_index(parsed)
        systolic, diastolic, mean = readings[6], readings[7], readings[8]
        assert (systolic.code, systolic.value, systolic.unit) == ("systolic_bp", 128.0, "mm[Hg]")
        assert (diastolic.code, diastolic.value, diastolic.unit) == ("diastolic_bp", 82.0, "mm[Hg]")
        assert (mean.code, mean.value, mean.unit) == ("mean_bp", 97.0, "mm[Hg]")
        nibp_time = datetime(2020, 2, 12, 17, 48, 12, tzinfo=UTC)
        assert systolic.measured_at == diastolic.measured_at == mean.measured_at == nibp_time
        assert readings[3].measured_at - nibp_time == timedelta(minutes=7, seconds=29)

    def test_skipped_rows_and_reasons(self, parsed: ParsedOru) -> None:
        reasons = {s.obx_index: s.reason for s in parsed.skipped}
        assert reasons == {
            1: "device_header",
            2: "device_header",
            5: "untracked_code",
            9: "non_numeric",
            10: "non_numeric",
        }
        details = {s.obx_index: s.detail for s in parsed.skipped}
        assert "150488" in details[5]
        assert "ST" in details[9]
        assert "NA" in details[10]

    def test_raw_obx_is_kept(self, parsed: ParsedOru) -> None:
        assert by_index(parsed)[6].raw_obx == (
            "OBX|6|NM|150301^MDC_PRESS_CUFF_SYS^MDC|1.2.1.1|128|mmHg|||||F|||20200212124812"
        )

    def test_readings_normalize_through_the_shared_vital_table(self, parsed: ParsedOru) -> None:
        for reading in parsed.readings:
            normalized = normalize(reading.code, reading.value, reading.unit)
            assert normalized.unit == VITALS[VitalCode(reading.code)].unit


# A gateway: offsets with fractional seconds, EUI-64 only in OBR-3, no PID, LF separated.
GATEWAY = er7(
    "MSH|^~\\&|GATEWAY^ACME^L|ICU||"
    "|20210425230331-0400||ORU^R01^ORU_R01|GW-77|D|2.6|||NE|AL||||||" + IHE_PCD,
    "OBR|1||0009fbFFFF9b42b3^^^EUI-64|182777000^monitoring of patient^SNOMED-CT|||"
    "20210425230331.496-0400",
    "OBX|1|NM|150456^MDC_PULS_OXIM_SAT_O2^MDC|1.0.1.1|94|262688^MDC_DIM_PERCENT^MDC|||||R",
    "OBX|2|NM|151562^MDC_RESP_RATE^MDC|1.0.2.1|14|264928^MDC_DIM_RESP_PER_MIN^MDC|||||R"
    "|||20210426031500.25+0000",
    "OBX|3|NM|150364^MDC_TEMP_BODY^MDC|1.0.3.1|37.2|268192^MDC_DIM_DEGC^MDC|||||R",
    "OBX|4|NM|151708^MDC_AWAY_CO2_ET^MDC|1.0.4.1|38|266016^MDC_DIM_MMHG^MDC|||||R",
    "OBX|5|NM|147842^MDC_ECG_HEART_RATE^MDC|1.0.5.1|66|bpm|||||R",
    sep="\n",
)


class TestGatewayMessage:
    def test_offsets_fractions_and_obr_device(self) -> None:
        parsed = parse_oru(GATEWAY, clinic_tz=NEW_YORK)
        assert parsed.patient_mrn is None
        assert parsed.processing_id == "D"
        readings = by_index(parsed)
        assert readings[1].measured_at == datetime(2021, 4, 26, 3, 3, 31, 496000, tzinfo=UTC)
        assert readings[2].measured_at == datetime(2021, 4, 26, 3, 15, 0, 250000, tzinfo=UTC)
        assert (readings[3].code, readings[3].value, readings[3].unit) == (
            "temperature",
            37.2,
            "Cel",
        )
        assert (readings[4].code, readings[4].unit) == ("etco2", "mm[Hg]")
        assert (readings[5].code, readings[5].unit) == ("heart_rate", "/min")
        assert {r.device_identifier for r in parsed.readings} == {"0009fbFFFF9b42b3"}
        assert parsed.raw.count("\r") == 6
        assert "\n" not in parsed.raw

    def test_mllp_framed_bytes_with_crlf(self) -> None:
        framed = b"\x0b" + GATEWAY.replace("\n", "\r\n").encode() + b"\x1c\r"
        parsed = parse_oru(strip_mllp(framed), clinic_tz=UTC)
        assert parsed.control_id == "GW-77"
        assert len(parsed.readings) == 5

    def test_parse_oru_strips_framing_itself(self) -> None:
        parsed = parse_oru("\x0b" + GATEWAY + "\x1c\r", clinic_tz=UTC)
        assert len(parsed.readings) == 5


# EUI-64 only in OBX-18 of the first OBX (the MDS row); MSH-3 and OBR-3 are plain names.
# SPEC §8 takes the device of each OBX from that OBX's own OBX-18, its OBR-3 or MSH-3 only, so
# the metric rows below the header carry no device and are routed by PID-3 (DOMAIN.md lists this
# vendor shape; SPEC wins: a guessed device could be another patient's monitor).
FIRST_OBX_DEVICE = er7(
    "MSH|^~\\&|CENTRAL^^|WARD|||20240305101500+0100||ORU^R01^ORU_R01|C-1|P|2.6",
    "PID|||B-2^^^VIGIL^MR",
    "OBR|1||ORD-9^CENTRAL|182777000^monitoring of patient^SNOMED-CT|||20240305101500+0100",
    "OBX|1||69965^MDC_DEV_MON_PHYSIO_MULTI_PARAM_MDS^MDC|1.0.0.0|||||||X|||||||"
    "SERIAL-12^SN~0123456789ABCDEF^^0123456789ABCDEF^EUI-64",
    "OBX|2|NM|150456^MDC_PULS_OXIM_SAT_O2^MDC|1.0.1.1|99|262688^MDC_DIM_PERCENT^MDC|||||F",
    "OBX|3|NM|149546^MDC_PULS_RATE_NON_INV^MDC|1.0.2.1|61|264864^MDC_DIM_BEAT_PER_MIN^MDC|||||F",
)


class TestDeviceIdentification:
    def test_a_header_rows_device_is_not_inherited_by_the_rows_below(self) -> None:
        parsed = parse_oru(FIRST_OBX_DEVICE, clinic_tz=UTC)
        assert [s.reason for s in parsed.skipped] == ["device_header"]
        assert [(r.code, r.device_identifier) for r in parsed.readings] == [
            ("spo2", None),
            ("heart_rate", None),
        ]
        assert parsed.patient_mrn == "B-2"
        assert parsed.readings[0].measured_at == datetime(2024, 3, 5, 9, 15, tzinfo=UTC)

    def test_each_obx_uses_its_own_obx18_else_its_obr3_else_msh3(self) -> None:
        message = er7(
            "MSH|^~\\&|MON^AAAAAAAAAAAAAAAA^EUI-64||||20240305101500+0000||ORU^R01|C-2|P|2.6",
            "OBR|1||X^^BBBBBBBBBBBBBBBB^EUI-64||||20240305101500+0000",
            "OBX|1|NM|150456^^MDC||99|%|||||F|||||||CCCCCCCCCCCCCCCC^^^EUI-64",
            "OBX|2|NM|149530^^MDC||60|/min|||||F",
            "OBR|2||0009fbFFFF9b42b3^^^EUI-64||||20240305101500+0000",
            "OBX|3|NM|149530^^MDC||61|/min|||||F",
            "OBR|3||||||20240305101500+0000",
            "OBX|4|NM|149530^^MDC||62|/min|||||F",
        )
        devices = [r.device_identifier for r in parse_oru(message, clinic_tz=UTC).readings]
        assert devices == [
            "CCCCCCCCCCCCCCCC",  # its own OBX-18
            "BBBBBBBBBBBBBBBB",  # no OBX-18: its OBR's OBR-3, not the row above's OBX-18
            "0009fbFFFF9b42b3",  # a new OBR group with its own OBR-3 EUI-64
            "AAAAAAAAAAAAAAAA",  # no OBX-18, no OBR-3: MSH-3, not an earlier group's OBX-18
        ]

    def test_obr3_wins_over_an_earlier_rows_obx18_in_the_same_group(self) -> None:
        message = er7(
            "MSH|^~\\&|GATEWAY|CLINIC|||20240305101500+0000||ORU^R01|C-5|P|2.6",
            "OBR|1||BBBBBBBBBBBBBBBB^^^EUI-64||||20240305101500+0000",
            "OBX|1|NM|147842^^MDC||88|/min|||||F|||||||AAAAAAAAAAAAAAAA^^^EUI-64",
            "OBX|2|NM|150456^^MDC||91|%|||||F",
            "OBR|2||||||20240305101500+0000",
            "OBX|3|NM|150456^^MDC||90|%|||||F",
        )
        devices = [r.device_identifier for r in parse_oru(message, clinic_tz=UTC).readings]
        assert devices == ["AAAAAAAAAAAAAAAA", "BBBBBBBBBBBBBBBB", None]

    def test_obr3_universal_id_is_used_when_present(self) -> None:
        message = er7(
            "MSH|^~\\&|MON||||20240305101500+0000||ORU^R01|C-3|P|2.6",
            "OBR|1|AB1^ACME^ACDE48234567ABCD^EUI-64|CD1^ACME^ACDE48234567ABCD^EUI-64||||"
            "20240305101500+0000",
            "OBX|1|NM|150456^^MDC||99|%|||||F",
        )
        assert parse_oru(message, clinic_tz=UTC).readings[0].device_identifier == (
            "ACDE48234567ABCD"
        )

    def test_non_eui64_identifiers_are_ignored(self) -> None:
        message = er7(
            "MSH|^~\\&|MON^SERIAL99^L||||20240305101500+0000||ORU^R01|C-4|P|2.6",
            "OBR|1||ORD-1^MON^^ISO||||20240305101500+0000",
            "OBX|1|NM|150456^^MDC||99|%|||||F|||||||SERIAL99^MON^^L",
        )
        assert parse_oru(message, clinic_tz=UTC).readings[0].device_identifier is None


def oru(*obx: str, obr_time: str = "20240305101500+0000") -> str:
    return er7(
        "MSH|^~\\&|MON^0123456789ABCDEF^EUI-64||||20240305101500+0000||ORU^R01^ORU_R01|T-1|P|2.6",
        "PID|||A-1",
        f"OBR|1||||||{obr_time}",
        *obx,
    )


class TestPatientIdentifier:
    @pytest.mark.parametrize(
        ("pid3", "mrn"),
        [
            ("A-1^^^VIGIL^MR", "A-1"),
            ("A-1", "A-1"),  # no identifier type: the first repetition
            ("123-45-6789^^^SSA^SS~A-1^^^VIGIL^MR", "A-1"),  # the MR one, not the first
            ("H-9^^^HOSP^PI~A-1^^^VIGIL^mr~X-2^^^INS^MB", "A-1"),
            ("123-45-6789^^^SSA^SS~H-9^^^HOSP^PI", "123-45-6789"),  # no MR: the first
            ("123-45-6789^^^SSA^SS~^^^VIGIL^MR", None),  # MR given but empty: not the SSN
            ("", None),
        ],
    )
    def test_pid3_uses_the_mr_repetition(self, pid3: str, mrn: str | None) -> None:
        message = er7(
            "MSH|^~\\&|MON||||20240305101500+0000||ORU^R01|P-1|P|2.6",
            f"PID|||{pid3}||Ruiz^Ana",
            "OBR|1||||||20240305101500+0000",
            "OBX|1|NM|150456^^MDC||99|%|||||F",
        )
        assert parse_oru(message, clinic_tz=UTC).patient_mrn == mrn


class TestResultStatus:
    @pytest.mark.parametrize("status", ["F", "R", "C", "P", "f", "r"])
    def test_final_unverified_corrected_and_preliminary_values_are_readings(
        self, status: str
    ) -> None:
        row = f"OBX|1|NM|150456^^MDC||97|%|||||{status}"
        parsed = parse_oru(oru(row), clinic_tz=UTC)
        assert [r.value for r in parsed.readings] == [97.0]

    @pytest.mark.parametrize(
        ("status", "reason", "words"),
        [
            ("W", "result_status", "wrong"),
            ("D", "result_status", "deletes"),
            ("X", "result_status", "no result"),  # X with a value is still not a result
            ("I", "result_status", "pending"),
            ("S", "result_status", "partial"),
            ("U", "result_status", "status change"),
            ("Q", "result_status", "not an HL7 table 0085"),
            ("", "missing_status", "OBX-11 is empty"),
        ],
    )
    def test_other_statuses_are_rejected_rows(self, status: str, reason: str, words: str) -> None:
        row = f"OBX|1|NM|147842^^MDC||250|/min|||||{status}"
        parsed = parse_oru(oru(row), clinic_tz=UTC)
        assert parsed.readings == []
        [rejected] = parsed.rejected
        assert (rejected.reason, rejected.raw_obx) == (reason, row)
        assert words in rejected.detail

    def test_a_retraction_without_a_value_is_rejected_not_skipped(self) -> None:
        parsed = parse_oru(oru("OBX|1|NM|147842^^MDC|||/min|||||W"), clinic_tz=UTC)
        assert [r.reason for r in parsed.rejected] == ["result_status"]

    def test_no_result_without_a_value_is_skipped(self) -> None:
        parsed = parse_oru(oru("OBX|1|NM|150301^^MDC|||mmHg|||||X"), clinic_tz=UTC)
        assert [(s.reason, s.obx_index) for s in parsed.skipped] == [("no_result", 1)]
        assert parsed.rejected == []


class TestRejectedRows:
    def test_percent_on_systolic_is_a_unit_mismatch(self) -> None:
        row = "OBX|1|NM|150021^MDC_PRESS_BLD_NONINV_SYS^MDC|1.0.1.1|120|%|||||F"
        parsed = parse_oru(oru(row), clinic_tz=UTC)
        assert parsed.readings == []
        [rejected] = parsed.rejected
        assert (rejected.obx_index, rejected.reason, rejected.raw_obx) == (1, "unit_mismatch", row)
        assert "systolic_bp" in rejected.detail

    def test_unknown_mdc_unit_code(self) -> None:
        row = "OBX|1|NM|150456^^MDC||97|999999^MDC_DIM_WHATEVER^MDC|||||F"
        assert parse_oru(oru(row), clinic_tz=UTC).rejected[0].reason == "unit_mismatch"

    def test_unit_code_is_authoritative_over_a_wrong_name(self) -> None:
        row = "OBX|1|NM|150021^^MDC||120|266016^MDC_DIM_PERCENT^MDC|||||F"
        assert parse_oru(oru(row), clinic_tz=UTC).readings[0].unit == "mm[Hg]"

    def test_unknown_unit_code_falls_back_to_its_name(self) -> None:
        row = "OBX|1|NM|150344^MDC_TEMP^MDC||98.6|268224^MDC_DIM_FAHR^MDC|||||F"
        reading = parse_oru(oru(row), clinic_tz=UTC).readings[0]
        assert (reading.code, reading.value, reading.unit) == ("temperature", 98.6, "[degF]")

    def test_kilopascal_and_fahrenheit_codes(self) -> None:
        parsed = parse_oru(
            oru(
                "OBX|1|NM|151708^^MDC||5.1|265987^MDC_DIM_KILO_PASCAL^MDC|||||F",
                "OBX|2|NM|150364^^MDC||99.1|266560^MDC_DIM_FAHR^MDC|||||F",
            ),
            clinic_tz=UTC,
        )
        assert [(r.code, r.unit) for r in parsed.readings] == [
            ("etco2", "kPa"),
            ("temperature", "[degF]"),
        ]

    @pytest.mark.parametrize("value", ["abc", "12,5", "NaN", "inf", "1e3", "120~130", "120^x"])
    def test_non_numeric_nm_value(self, value: str) -> None:
        row = f"OBX|1|NM|150456^^MDC||{value}|%|||||F"
        [rejected] = parse_oru(oru(row), clinic_tz=UTC).rejected
        assert rejected.reason == "invalid_value"

    @pytest.mark.parametrize(("value", "expected"), [("-1.5", -1.5), ("+97", 97.0), (".5", 0.5)])
    def test_numeric_forms(self, value: str, expected: float) -> None:
        row = f"OBX|1|NM|150456^^MDC||{value}|%|||||F"
        assert parse_oru(oru(row), clinic_tz=UTC).readings[0].value == expected

    def test_missing_unit(self) -> None:
        row = "OBX|1|NM|150456^^MDC||97||||||F"
        assert parse_oru(oru(row), clinic_tz=UTC).rejected[0].reason == "missing_unit"

    def test_no_time_anywhere(self) -> None:
        row = "OBX|1|NM|150456^^MDC||97|%|||||F"
        [rejected] = parse_oru(oru(row, obr_time=""), clinic_tz=UTC).rejected
        assert rejected.reason == "missing_time"

    @pytest.mark.parametrize("stamp", ["2024030510", "20241305101500", "2024-03-05T10:15:00Z"])
    def test_imprecise_or_malformed_time(self, stamp: str) -> None:
        row = f"OBX|1|NM|150456^^MDC||97|%|||||F|||{stamp}"
        [rejected] = parse_oru(oru(row), clinic_tz=UTC).rejected
        assert rejected.reason == "invalid_time"

    def test_tracked_numeric_without_value(self) -> None:
        parsed = parse_oru(
            oru(
                "OBX|1|NM|150021^^MDC||||||||X",
                "OBX|2|NM|150022^^MDC|||266016^^MDC|||||F",
            ),
            clinic_tz=UTC,
        )
        assert [(s.obx_index, s.reason) for s in parsed.skipped] == [(1, "no_result")]
        assert [(r.obx_index, r.reason) for r in parsed.rejected] == [(2, "missing_value")]

    def test_rejected_rows_do_not_stop_the_good_ones(self) -> None:
        parsed = parse_oru(
            oru(
                "OBX|1|NM|150021^^MDC||120|%|||||F",
                "OBX|2|NM|150022^^MDC||80|mmHg|||||F",
            ),
            clinic_tz=UTC,
        )
        assert [r.code for r in parsed.readings] == ["diastolic_bp"]
        assert [r.obx_index for r in parsed.rejected] == [1]

    def test_minute_precision_and_escaped_text(self) -> None:
        row = "OBX|1|NM|150456^^MDC||97|%|||||F|||202002121255"
        reading = parse_oru(oru(row), clinic_tz=NEW_YORK).readings[0]
        assert reading.measured_at == datetime(2020, 2, 12, 17, 55, tzinfo=UTC)


class TestWholeMessageErrors:
    @pytest.mark.parametrize(
        "garbage",
        ["", "   ", "hello world", "PID|||123", "MSH", '{"resourceType": "Observation"}'],
    )
    def test_garbage_is_rejected(self, garbage: str) -> None:
        with pytest.raises(Hl7Error) as info:
            parse_oru(garbage, clinic_tz=UTC)
        assert info.value.ack_code == "AR"
        assert info.value.err_code == "100"
        assert info.value.text

    def test_adt_is_an_unsupported_message_type(self) -> None:
        adt = er7(
            "MSH|^~\\&|ADT1|HOSP|VIGIL||20240305101500||ADT^A01^ADT_A01|ADT-5|P|2.6",
            "PID|||A-1^^^HOSP^MR||Doe^Jane",
        )
        with pytest.raises(Hl7Error) as info:
            parse_oru(adt, clinic_tz=UTC)
        error = info.value
        assert (error.ack_code, error.err_code) == ("AR", "200")
        assert "ADT^A01" in error.text
        # Enough of the header survives to address the ACK.
        assert (error.control_id, error.sending_application, error.sending_facility) == (
            "ADT-5",
            "ADT1",
            "HOSP",
        )
        assert error.trigger_event == "A01"

    def test_missing_control_id(self) -> None:
        message = er7(
            "MSH|^~\\&|MON||||20240305101500||ORU^R01|||2.6",
            "OBR|1||||||20240305101500",
            "OBX|1|NM|150456^^MDC||97|%|||||F",
        )
        with pytest.raises(Hl7Error) as info:
            parse_oru(message, clinic_tz=UTC)
        assert (info.value.ack_code, info.value.err_code) == ("AR", "101")
        assert info.value.sending_application == "MON"

    def test_several_messages_in_one_body(self) -> None:
        with pytest.raises(Hl7Error) as info:
            parse_oru(MINDRAY + "\r" + MINDRAY, clinic_tz=UTC)
        assert info.value.ack_code == "AR"

    def test_oru_without_observations_is_an_application_error(self) -> None:
        message = er7(
            "MSH|^~\\&|MON||||20240305101500||ORU^R01^ORU_R01|E-1|P|2.6",
            "PID|||A-1",
            "OBR|1||||||20240305101500",
        )
        with pytest.raises(Hl7Error) as info:
            parse_oru(message, clinic_tz=UTC)
        assert (info.value.ack_code, info.value.err_code) == ("AE", "100")
        assert info.value.control_id == "E-1"


class TestStripMllp:
    def test_framing_and_separators(self) -> None:
        assert strip_mllp(b"\x0bMSH|a\r\nPID|b\nOBX|c\r\x1c\r") == "MSH|a\rPID|b\rOBX|c"

    def test_latin1_fallback(self) -> None:
        assert strip_mllp("MSH|Müller".encode("latin-1")) == "MSH|Müller"
        assert strip_mllp("MSH|Müller".encode()) == "MSH|Müller"

    def test_blank_lines_are_dropped(self) -> None:
        assert strip_mllp("\n\nMSH|a\n\nPID|b\n\n") == "MSH|a\rPID|b"

    def test_bom_and_surrounding_whitespace(self) -> None:
        assert strip_mllp("\ufeff  MSH|a  \r\n\tPID|b\r\n") == "MSH|a\rPID|b"
        parsed = parse_oru("\ufeff\n" + MINDRAY + "\n\n", clinic_tz=UTC)
        assert parsed.control_id == "MSG-0002"

    @given(st.lists(st.from_regex(r"[A-Z]{3}\|[a-z0-9^|]{0,20}", fullmatch=True), min_size=1))
    def test_any_line_ending_gives_the_same_message(self, segments: list[str]) -> None:
        expected = "\r".join(segments)
        for sep in ("\r", "\n", "\r\n"):
            assert strip_mllp(sep.join(segments)) == expected
            assert strip_mllp(b"\x0b" + sep.join(segments).encode() + b"\x1c\r") == expected


class TestParseDtm:
    @pytest.mark.parametrize(
        ("value", "expected"),
        [
            ("20210425230331.496-0400", datetime(2021, 4, 26, 3, 3, 31, 496000, tzinfo=UTC)),
            ("20200212125541", datetime(2020, 2, 12, 17, 55, 41, tzinfo=UTC)),
            ("202002121255", datetime(2020, 2, 12, 17, 55, tzinfo=UTC)),
            ("20200712125541", datetime(2020, 7, 12, 16, 55, 41, tzinfo=UTC)),  # EDT
            ("20200212125541+0530", datetime(2020, 2, 12, 7, 25, 41, tzinfo=UTC)),
            ("20200212125541-0030", datetime(2020, 2, 12, 13, 25, 41, tzinfo=UTC)),
            ("2020", datetime(2020, 1, 1, 5, 0, tzinfo=UTC)),
        ],
    )
    def test_values(self, value: str, expected: datetime) -> None:
        result = parse_dtm(value, clinic_tz=NEW_YORK)
        assert result == expected
        assert result.tzinfo is UTC

    @pytest.mark.parametrize(
        "value", ["", "20", "2020021", "20200230", "20200212125541.", "20200212+05", "x2020"]
    )
    def test_malformed(self, value: str) -> None:
        with pytest.raises(ValueError, match=r".+"):
            parse_dtm(value, clinic_tz=UTC)

    @pytest.mark.parametrize(
        ("value", "clinic"),
        [
            ("99991231235959-1400", UTC),
            ("00010101000000+1400", UTC),
            ("00010101000000", timezone(timedelta(hours=5))),  # the clinic zone's offset
            ("99991231235959", timezone(timedelta(hours=-5))),
        ],
    )
    def test_out_of_range_once_in_utc_is_a_value_error(self, value: str, clinic: tzinfo) -> None:
        with pytest.raises(ValueError, match="out of range"):
            parse_dtm(value, clinic_tz=clinic)

    def test_fixed_offset_clinic_zone(self) -> None:
        clinic = timezone(timedelta(hours=2))
        assert parse_dtm("202002121255", clinic_tz=clinic) == datetime(
            2020, 2, 12, 10, 55, tzinfo=UTC
        )


class TestTables:
    def test_mdc_table_matches_domain(self) -> None:
        expected = {
            "147842": "heart_rate",
            "149530": "heart_rate",
            "149546": "heart_rate",
            "150456": "spo2",
            "150021": "systolic_bp",
            "150301": "systolic_bp",
            "150022": "diastolic_bp",
            "150302": "diastolic_bp",
            "150023": "mean_bp",
            "150303": "mean_bp",
            "151562": "respiratory_rate",
            "151578": "respiratory_rate",
            "150344": "temperature",
            "150364": "temperature",
            "151708": "etco2",
        }
        assert {k: v.value for k, v in MDC_TO_VITAL.items()} == expected

    def test_units_are_ucum_spellings_known_to_the_vital_table(self) -> None:
        accepted = {d.unit for d in VITALS.values()} | {
            u for d in VITALS.values() for u in d.conversions
        }
        assert {u for u in MDC_UNITS.values() if u != "kg"} <= accepted
        assert MDC_UNITS["266016"] == "mm[Hg]"
        assert MDC_UNITS["262688"] == "%"
        assert MDC_UNITS["264864"] == MDC_UNITS["264928"] == "/min"
        assert MDC_UNITS["268192"] == "Cel"


class TestBuildAck:
    NOW = datetime(2024, 3, 5, 10, 15, 0, tzinfo=timezone(timedelta(hours=1)))

    def test_accept(self) -> None:
        ack = build_ack(
            original_control_id="MSG-0002",
            sending_application="MINDRAY_VS900^00A0370098006640^EUI-64",
            sending_facility="CLINIC",
            ack_code="AA",
            now=self.NOW,
            control_id="ACK-1",
        )
        assert ack == (
            "MSH|^~\\&|VIGIL||MINDRAY_VS900^00A0370098006640^EUI-64|CLINIC|20240305091500+0000||"
            "ACK^R01^ACK|ACK-1|P|2.6\rMSA|AA|MSG-0002\r"
        )
        message = hl7.parse(ack)
        assert str(message["MSH.F9.R1.C1"]) == "ACK"
        assert str(message["MSH.F5.R1.C2"]) == "00A0370098006640"
        assert str(message.segment("MSA")(1)) == "AA"
        with pytest.raises(KeyError):
            message.segment("ERR")

    def test_error_has_err_segment_and_escaped_text(self) -> None:
        ack = build_ack(
            original_control_id="GW|77",
            sending_application="GATEWAY^ACME^L",
            sending_facility=None,
            ack_code="AE",
            text="OBX 3: unit % | does not fit systolic_bp\nsecond line",
            err_code="103",
            now=self.NOW,
        )
        message = hl7.parse(ack)
        assert len(message) == 3
        msa, err = message.segment("MSA"), message.segment("ERR")
        assert msa.extract_field(1, 1) == "AE"
        assert msa.extract_field(1, 2) == "GW|77"
        assert msa.extract_field(1, 3) == "OBX 3: unit % | does not fit systolic_bp second line"
        assert err.extract_field(1, 3, 1, 1) == "103"
        assert err.extract_field(1, 3, 1, 2) == "Table value not found"
        assert err.extract_field(1, 3, 1, 3) == "HL70357"
        assert err.extract_field(1, 4) == "E"
        assert err.extract_field(1, 8) == msa.extract_field(1, 3)
        assert len(str(message.segment("MSH")(10))) == 20

    def test_reject_for_garbage_without_header(self) -> None:
        ack = build_ack(
            original_control_id=None,
            sending_application=None,
            sending_facility=None,
            ack_code="AR",
            text="not an HL7 v2 message",
            err_code="100",
            trigger_event="A01",
        )
        message = hl7.parse(ack)
        assert str(message.segment("MSH")(9)) == "ACK^A01^ACK"
        assert str(message.segment("ERR")(3)) == "100^Segment sequence error^HL70357"
        assert ack.endswith("\r")
        assert "\n" not in ack

    def test_reject_defaults_to_internal_error(self) -> None:
        ack = build_ack(
            original_control_id="X",
            sending_application="A",
            sending_facility="F",
            ack_code="AR",
            now=self.NOW,
        )
        assert "ERR|||207^Application internal error^HL70357|E||||Application internal error" in (
            ack
        )

    def test_error_from_parse_round_trip(self) -> None:
        adt = "MSH|^~\\&|ADT1|HOSP|||20240305101500||ADT^A01|ADT-5|P|2.6"
        with pytest.raises(Hl7Error) as info:
            parse_oru(adt, clinic_tz=UTC)
        error = info.value
        ack = build_ack(
            original_control_id=error.control_id,
            sending_application=error.sending_application,
            sending_facility=error.sending_facility,
            ack_code=error.ack_code,
            text=error.text,
            err_code=error.err_code,
            trigger_event=error.trigger_event or "R01",
        )
        message = hl7.parse(ack)
        assert str(message.segment("MSA")(2)) == "ADT-5"
        assert str(message["MSH.F5"]) == "ADT1"
        assert str(message.segment("ERR")(3)(1)(1)) == "200"

    def test_unknown_ack_code(self) -> None:
        with pytest.raises(ValueError, match="acknowledgment"):
            build_ack(
                original_control_id="X",
                sending_application=None,
                sending_facility=None,
                ack_code="OK",
            )

    def test_naive_now_is_refused(self) -> None:
        with pytest.raises(ValueError, match="aware"):
            build_ack(
                original_control_id="X",
                sending_application=None,
                sending_facility=None,
                ack_code="AA",
                now=datetime(2024, 1, 1),
            )


def _msh(charset: str) -> str:
    return f"MSH|^~\\&|GW|Klinik|||20261201||ORU^R01|X1|P|2.6||||||{charset}\rPID|||1"


class TestCharsets:
    def test_msh18_names_the_answers_character_set(self) -> None:
        assert declared_charset(_msh("8859/1").encode()).codec == "iso8859-1"
        assert declared_charset(_msh("8859/15")).mime == "iso-8859-15"
        assert declared_charset(b"\x0b" + _msh("UNICODE UTF-8").encode()).codec == "utf-8"
        assert declared_charset(_msh("unicode  utf-8")).msh18 == "UNICODE UTF-8"
        assert declared_charset(_msh("8859/1~ISO IR87")).msh18 == "8859/1"  # the first one

    def test_absent_unknown_or_unreadable_is_ascii(self) -> None:
        assert declared_charset(_msh("")) == ASCII
        assert declared_charset(_msh("UNICODE UTF-16")) == ASCII  # MLLP cannot frame it
        assert declared_charset("MSH|^~\\&|GW") == ASCII
        assert declared_charset(b"\xff\xfe garbage") == ASCII
        assert declared_charset("") == ASCII

    def test_latin1_messages_are_read_as_latin1(self) -> None:
        raw = _msh("8859/1").replace("Klinik", "Klinik Müller").encode("latin-1")
        assert "Klinik Müller" in strip_mllp(raw)
        # declared latin-1, even where the bytes would also be valid UTF-8
        assert "Ã¼" in strip_mllp(_msh("8859/1").replace("Klinik", "Müller").encode())

    def test_what_the_set_cannot_hold_is_escaped(self) -> None:
        assert encode_message("Müller €", ASCII) == b"M\\X00FC\\ller \\X20AC\\"
        latin1 = declared_charset(_msh("8859/1"))
        assert encode_message("Müller €", latin1) == b"M\xfcller \\X20AC\\"
        assert encode_message("𝄞", ASCII) == b"\\X1D11E\\"
        utf8 = declared_charset(_msh("UNICODE UTF-8"))
        assert encode_message("Müller €", utf8) == "Müller €".encode()

    def test_the_ack_declares_its_character_set(self) -> None:
        ack = build_ack(
            original_control_id="X1",
            sending_application="GW",
            sending_facility="Klinik",
            ack_code="AA",
            charset="8859/1",
        )
        msh = ack.split("\r")[0].split("|")
        assert msh[17] == "8859/1"
        plain = build_ack(
            original_control_id="X1", sending_application="GW", sending_facility="K", ack_code="AA"
        )
        assert len(plain.split("\r")[0].split("|")) == 12  # nothing declared: ASCII
