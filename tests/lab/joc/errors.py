"""JOC error bodies (joc-api.md §6)."""

import time


def joc_date(epoch=None):
    """JOC's deliveryDate/surveyDate: ISO 8601 UTC with milliseconds."""
    if epoch is None:
        epoch = time.time()
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(epoch)) + ".%03dZ" % int((epoch % 1) * 1000)


class JocError(Exception):
    """HTTP 420 ``{deliveryDate, surveyDate, error:{code, message}}`` (J§6).

    ``message`` is rendered "<ExceptionSimpleName>: <message>" as JOCDefaultResponse does.
    """

    status = 420

    def __init__(self, code, exception, message, status=420):
        super().__init__("%s: %s" % (exception, message))
        self.code = code
        self.exception = exception
        self.text = "%s: %s" % (exception, message)
        self.status = status

    def body(self):
        now = joc_date()
        return {"deliveryDate": now, "surveyDate": now, "error": {"code": self.code, "message": self.text}}


def bad_request(message):
    return JocError("JOC-400", "JocBadRequestException", message)


class AccountError(Exception):
    """401/403/440 with the account-answer shape (J§1.1, §1.3, §1.5, §6)."""

    def __init__(self, status, message, account="", api_call=""):
        super().__init__(message)
        self.status = status
        self.message = message
        self.account = account
        self.api_call = api_call

    def body(self):
        return account_answer(self.account, "", authenticated=False, message=self.message,
                              api_call=self.api_call, permitted=False)


def account_answer(account, token, authenticated, message="", session_timeout=0, api_call=None,
                   permitted=True, caller=""):
    body = {
        "accessToken": token,
        "account": account,
        "callerHostName": caller,
        "callerIpAddress": caller,
        "enableTouch": True,
        "forcePasswordChange": False,
        "hasRole": bool(authenticated),
        "identityService": "JOC:JOC",
        "isApprovalRequestor": False,
        "isApprover": False,
        "isAuthenticated": bool(authenticated),
        "isPermitted": bool(authenticated and permitted),
        "message": message,
        "role": "all" if authenticated else "",
        "sessionTimeout": session_timeout,
    }
    if api_call:
        body["apiCall"] = api_call
    return body
